"""Narrative sets: YAML files, one set a file, loaded, validated and versioned.

A set's version is a hash of its content, so a matching run names exactly the definitions it
used, and editing a single exemplar yields a new version whose matches never mix with the old.
Errors name the file and the field (`crocus-2024.yaml: narratives[1].exemplars.ru[2]: ...`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from narratives.core.langs import TRACKED

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LANG = re.compile(r"^[a-z]{2,3}$")
SET_KEYS = {"id", "title", "description", "event_date", "event", "narratives", "background"}
NARRATIVE_KEYS = {"id", "label", "description", "threshold", "exemplars", "counter_exemplars",
                  "status"}  # fmt: skip
EVENT_KEYS = {"description", "start", "end", "terms"}
STATUSES = {"active", "draft"}


class DefinitionError(ValueError):
    def __init__(self, path: str | Path, where: str, problem: str):
        self.path, self.where, self.problem = str(path), where, problem
        super().__init__(f"{path}: {where}: {problem}")


@dataclass(frozen=True)
class Narrative:
    id: str
    label: str
    description: str
    threshold: float
    exemplars: dict[str, tuple[str, ...]]
    status: str = "active"
    # denials and debunks of the narrative, by language: what refuting it looks like (stance)
    counter_exemplars: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return content_hash(self.to_dict())

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "label": self.label,
            "description": self.description,
            "threshold": self.threshold,
            "exemplars": {lang: list(texts) for lang, texts in self.exemplars.items()},
        }
        if self.counter_exemplars:
            out["counter_exemplars"] = {k: list(v) for k, v in self.counter_exemplars.items()}
        if self.status != "active":
            out["status"] = self.status
        return out


@dataclass(frozen=True)
class Event:
    """The event a set is about: what a document must be about for its narratives to count.

    `terms` are key terms and names by language, matched case-insensitively at the start of a
    word (so `Крокус` also finds `Крокусе`); `start`/`end` bound the publication dates."""

    description: str
    start: dt.date | None = None
    end: dt.date | None = None
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out: dict = {"description": self.description}
        if self.start:
            out["start"] = self.start.isoformat()
        if self.end:
            out["end"] = self.end.isoformat()
        if self.terms:
            out["terms"] = {lang: list(t) for lang, t in self.terms.items()}
        return out


@dataclass(frozen=True)
class NarrativeSet:
    id: str
    title: str
    narratives: tuple[Narrative, ...]
    description: str = ""
    event_date: dt.date | None = None
    path: Path | None = field(default=None, compare=False)
    # neutral coverage of the set's topic, by language: what a passage carrying none of the
    # narratives looks like. A passage closer to it than to a narrative is not matched to that one.
    background: dict[str, tuple[str, ...]] = field(default_factory=dict)
    event: Event | None = None  # without one, every document is in scope

    @property
    def version(self) -> str:
        return content_hash(self.to_dict())

    def get(self, narrative_id: str) -> Narrative:
        for n in self.narratives:
            if n.id == narrative_id:
                return n
        raise KeyError(f"narrative {narrative_id!r} is not in set {self.id!r}; it has {self.ids()}")

    def ids(self) -> list[str]:
        return [n.id for n in self.narratives]

    def to_dict(self) -> dict:
        out = {"id": self.id, "title": self.title}
        if self.description:
            out["description"] = self.description
        if self.event_date:
            out["event_date"] = self.event_date.isoformat()
        if self.event:
            out["event"] = self.event.to_dict()
        out["narratives"] = [n.to_dict() for n in self.narratives]
        if self.background:
            out["background"] = {lang: list(texts) for lang, texts in self.background.items()}
        return out


def content_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:12]


def load_set(path: str | Path) -> NarrativeSet:
    path = Path(path)
    if not path.exists():
        raise DefinitionError(
            path, "file", "does not exist; pass --narratives with a set's YAML file"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise DefinitionError(
            path, where, f"is not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    return parse_set(data, path)


def parse_set(data, path: str | Path = "<set>") -> NarrativeSet:
    if not isinstance(data, dict):
        raise DefinitionError(path, "top level", "must be a mapping with id, title and narratives")
    _no_unknown(path, "top level", data, SET_KEYS)
    set_id = _slug(path, "id", data.get("id"))
    title = _text(path, "title", data.get("title"))
    event_date = _date(path, "event_date", data.get("event_date"))
    items = data.get("narratives")
    if not isinstance(items, list) or not items:
        raise DefinitionError(path, "narratives", "must be a non-empty list of narratives")
    narratives = tuple(_narrative(path, f"narratives[{i}]", item) for i, item in enumerate(items))
    seen: set[str] = set()
    for i, n in enumerate(narratives):
        if n.id in seen:
            raise DefinitionError(path, f"narratives[{i}].id", f"{n.id!r} appears twice")
        seen.add(n.id)
    background = _by_language(path, "background", data.get("background") or {})
    event = _event(path, data["event"]) if data.get("event") is not None else None
    return NarrativeSet(
        event=event,
        id=set_id,
        background=background,
        title=title,
        description=str(data.get("description") or "").strip(),
        event_date=event_date,
        narratives=narratives,
        path=Path(path) if str(path) != "<set>" else None,
    )


def _narrative(path, where: str, item) -> Narrative:
    if not isinstance(item, dict):
        raise DefinitionError(
            path, where, "must be a mapping with id, label, description, threshold, exemplars"
        )
    _no_unknown(path, where, item, NARRATIVE_KEYS)
    nid = _slug(path, f"{where}.id", item.get("id"))
    threshold = item.get("threshold")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise DefinitionError(
            path, f"{where}.threshold", f"must be a number in (0, 1], got {threshold!r}"
        )
    status = item.get("status", "active")
    if status not in STATUSES:
        raise DefinitionError(
            path, f"{where}.status", f"must be one of {sorted(STATUSES)}, got {status!r}"
        )
    exemplars = _by_language(path, f"{where}.exemplars", item.get("exemplars") or {})
    counter = _by_language(path, f"{where}.counter_exemplars", item.get("counter_exemplars") or {})
    return Narrative(
        counter_exemplars=counter,
        id=nid,
        label=_text(path, f"{where}.label", item.get("label")),
        description=_text(path, f"{where}.description", item.get("description")),
        threshold=float(threshold),
        exemplars=exemplars,
        status=status,
    )


def _date(path, where: str, value) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DefinitionError(path, where, f"{value!r} is not a date like 2024-03-22") from None


def _event(path, raw) -> Event:
    if not isinstance(raw, dict):
        raise DefinitionError(
            path, "event", "must be a mapping with description, start, end, terms"
        )
    _no_unknown(path, "event", raw, EVENT_KEYS)
    start, end = (
        _date(path, "event.start", raw.get("start")),
        _date(path, "event.end", raw.get("end")),
    )
    if start and end and end < start:
        raise DefinitionError(path, "event.end", f"{end} is before the start {start}")
    return Event(
        description=_text(path, "event.description", raw.get("description")),
        start=start,
        end=end,
        terms=_by_language(path, "event.terms", raw.get("terms") or {}),
    )


def _by_language(path, where: str, raw) -> dict[str, tuple[str, ...]]:
    """A mapping of language code to a list of sentences (exemplars, background, terms).

    Only the tracked languages may key it, and no list may be empty: passages are labelled en, ru,
    uk or other, so sentences under any other code (or none at all) silently never take part."""
    if not isinstance(raw, dict):
        raise DefinitionError(path, where, "must map a language code to a list of sentences")
    out: dict[str, tuple[str, ...]] = {}
    for lang, texts in raw.items():
        if not isinstance(lang, str) or not LANG.match(lang):
            raise DefinitionError(path, f"{where}.{lang}", "is not a language code like en, ru, uk")
        if lang not in TRACKED:
            raise DefinitionError(path, f"{where}.{lang}", f"{lang!r} is not a tracked language; "
                                  f"use one of {', '.join(TRACKED)}")  # fmt: skip
        if not isinstance(texts, list):
            raise DefinitionError(path, f"{where}.{lang}", "must be a list of sentences")
        if not texts:
            raise DefinitionError(path, f"{where}.{lang}", "is an empty list; give at least one "
                                  "sentence or remove the language")  # fmt: skip
        out[lang] = tuple(_text(path, f"{where}.{lang}[{j}]", t) for j, t in enumerate(texts))
    return dict(sorted(out.items()))


def _no_unknown(path, where, data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DefinitionError(
            path, where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}"
        )


def _slug(path, where, value) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise DefinitionError(
            path, where, f"must be a lowercase id like 'ukraine-involved', got {value!r}"
        )
    return value


def _text(path, where, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(path, where, "must be a non-empty text")
    return " ".join(value.split())


def dump_set(nset: NarrativeSet, path: str | Path) -> Path:
    """Write a set as YAML (used by import and promote); the inverse of load_set."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(nset.to_dict(), allow_unicode=True, sort_keys=False, width=100)
    path.write_text(text, encoding="utf-8")
    return path
