"""The sources file: which feeds, pages, Telegram exports and datasets to ingest, and how.

TOML, one `[[sources]]` table per source (see docs/ingest.md and data/sources.example.toml).
Every problem is reported with the file and the key that holds it, e.g.
`sources.toml: sources[2].url: ...`, so the fix is obvious.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from narratives.core.langs import TRACKED

KINDS = ("feed", "page", "telegram-export", "files", "hf-dataset")
OUTLET_KINDS = ("state-media", "independent", "ukrainian", "international", "telegram")

FILE_FORMATS = ("jsonl", "csv", "parquet")
# document fields a `files` / `hf-dataset` source can map its columns to
MAPPABLE = ("id", "text", "title", "url", "published_at", "lang", "outlet", "outlet_kind")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_COMMON = {"id", "kind", "outlet", "outlet_kind", "lang", "enabled"}
_NETWORK = {"allow_private", "timeout_s", "max_bytes", "max_redirects"}
_ALLOWED = {
    "feed": _COMMON | _NETWORK | {"url", "full_text"},
    "page": _COMMON | _NETWORK | {"url", "urls"},
    "telegram-export": _COMMON | {"path"},
    "files": _COMMON | {"path", "format", "columns"},
    "hf-dataset": _COMMON | {"name", "split", "config", "columns"},
}


class SourcesError(ValueError):
    """A sources file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Source:
    id: str
    kind: str
    outlet: str
    outlet_kind: str | None = None
    lang: str | None = None  # expected language; the tracker still identifies it per passage
    urls: tuple[str, ...] = ()
    path: Path | None = None
    format: str | None = None
    name: str | None = None  # a Hugging Face dataset
    split: str = "train"
    config: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # document field -> column name
    full_text: str = (
        "auto"  # feeds: auto (fetch the article when the item is a summary) | always | never
    )
    allow_private: bool = False
    timeout_s: float = 20.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    enabled: bool = True

    @property
    def url(self) -> str | None:
        return self.urls[0] if self.urls else None

    @property
    def is_network(self) -> bool:
        return self.kind in ("feed", "page")


def load_sources(path: str | Path) -> list[Source]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no sources file at {path}; copy data/sources.example.toml and edit it"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path.name}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise SourcesError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    unknown = set(data) - {"sources"}
    if unknown:
        raise SourcesError(f"{path.name}: unknown top-level key(s) {sorted(unknown)}; "
                           "a sources file holds only [[sources]] tables")  # fmt: skip
    entries = data.get("sources")
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path.name}: sources: no [[sources]] tables; see docs/ingest.md")
    out: list[Source] = []
    for i, entry in enumerate(entries):
        where = f"{path.name}: sources[{i}]"
        source = _source(entry, where, path.parent)
        if any(s.id == source.id for s in out):
            raise SourcesError(
                f"{where}.id: {source.id!r} is used by another source; ids must be unique"
            )
        out.append(source)
    return out


def select(sources: list[Source], only: str | None) -> list[Source]:
    if only is None:
        return [s for s in sources if s.enabled]
    picked = [s for s in sources if s.id == only]
    if not picked:
        raise LookupError(f"no source {only!r}; the file has: {', '.join(s.id for s in sources)}")
    return picked


def _source(entry, where: str, base: Path) -> Source:
    if not isinstance(entry, dict):
        raise SourcesError(f"{where}: expected a table of settings")

    def need(key: str, kind=str):
        if key not in entry:
            raise SourcesError(f"{where}.{key}: missing (required)")
        return check(key, kind)

    def check(key: str, kind=str):
        value = entry.get(key)
        if value is not None and not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise SourcesError(f"{where}.{key}: expected {names}, got {value!r}")
        return value

    sid = need("id")
    if not _ID.match(sid):
        raise SourcesError(
            f"{where}.id: {sid!r} must be lower-case letters, digits, '.', '_' or '-'"
        )
    where = f"{where} ({sid})"
    kind = need("kind")
    if kind not in KINDS:
        raise SourcesError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    extra = set(entry) - _ALLOWED[kind]
    if extra:
        raise SourcesError(f"{where}: unknown key(s) {sorted(extra)} for kind {kind!r}; "
                           f"allowed: {sorted(_ALLOWED[kind])}")  # fmt: skip
    outlet = need("outlet")
    outlet_kind = check("outlet_kind")
    if outlet_kind is not None and outlet_kind not in OUTLET_KINDS:
        raise SourcesError(
            f"{where}.outlet_kind: {outlet_kind!r} is not one of {', '.join(OUTLET_KINDS)}"
        )
    lang = check("lang")
    if lang is not None and lang not in TRACKED:
        raise SourcesError(f"{where}.lang: {lang!r} is not one of {', '.join(TRACKED)}")
    values: dict = {
        "id": sid,
        "kind": kind,
        "outlet": outlet,
        "outlet_kind": outlet_kind,
        "lang": lang,
    }
    if "enabled" in entry:
        values["enabled"] = check("enabled", bool)
    if kind in ("feed", "page"):
        urls = [need("url")] if kind == "feed" or "urls" not in entry else check("urls", list)
        if kind == "page" and "url" in entry and "urls" in entry:
            raise SourcesError(f"{where}: give either url or urls, not both")
        for j, url in enumerate(urls):
            key = "url" if "urls" not in entry else f"urls[{j}]"
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
                raise SourcesError(f"{where}.{key}: {url!r} is not an http(s) URL")
        values["urls"] = tuple(urls)
        values["allow_private"] = bool(check("allow_private", bool))
        for key, typ in (("timeout_s", (int, float)), ("max_bytes", int), ("max_redirects", int)):
            if key in entry:
                value = check(key, typ)
                if value <= 0 and key != "max_redirects" or value < 0:
                    raise SourcesError(f"{where}.{key}: must be positive, got {value!r}")
                values[key] = value
        if kind == "feed" and "full_text" in entry:
            mode = check("full_text")
            if mode not in ("auto", "always", "never"):
                raise SourcesError(f"{where}.full_text: {mode!r} is not auto, always or never")
            values["full_text"] = mode
    if kind in ("telegram-export", "files"):
        p = Path(need("path")).expanduser()
        values["path"] = p if p.is_absolute() else base / p
    if kind == "files":
        fmt = check("format") or values["path"].suffix.lstrip(".").lower()
        fmt = {"json": "jsonl", "ndjson": "jsonl"}.get(fmt, fmt)
        if fmt not in FILE_FORMATS:
            raise SourcesError(f"{where}.format: {fmt!r} is not one of {', '.join(FILE_FORMATS)} "
                               "(set it when the file's extension does not say)")  # fmt: skip
        values["format"] = fmt
    if kind == "hf-dataset":
        values["name"] = need("name")
        values["split"] = check("split") or "train"
        values["config"] = check("config")
    if kind in ("files", "hf-dataset"):
        columns = check("columns", dict) or {}
        bad = set(columns) - set(MAPPABLE)
        if bad:
            raise SourcesError(
                f"{where}.columns: unknown field(s) {sorted(bad)}; map any of {', '.join(MAPPABLE)}"
            )
        for key, col in columns.items():
            if not isinstance(col, str):
                raise SourcesError(f"{where}.columns.{key}: expected a column name, got {col!r}")
        values["columns"] = dict(columns)
    return Source(**values)
