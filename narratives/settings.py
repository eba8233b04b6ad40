"""Every setting in one declared table, built once at the entry point and passed down.

Environment variables are read only by `Settings.from_env`, called by the CLI and the flows'
entry points; library code takes a `Settings` (or plain arguments) and never looks at os.environ.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

ENV_PREFIX = "NARRATIVES_"


def default_set_path() -> Path:
    return Path(str(resources.files("narratives") / "sets" / "crocus-2024.yaml"))


@dataclass(frozen=True)
class Settings:
    # where things live
    home: Path = Path("var")  # working state: the database, indexes, exports, snapshots
    db_path: Path | None = None  # default: <home>/narratives.duckdb
    corpus: Path = Path("data/demo/corpus.jsonl")
    narrative_set: Path = field(default_factory=default_set_path)
    sources: Path | None = (
        None  # a sources file (docs/ingest.md); when set, ingest reads it, not corpus
    )
    # embedding
    model: str = "e5-small"  # a registered backend name, or sentence-transformers:<name-or-path>
    batch_size: int = 32
    # where models built at first use are kept (default ~/.cache/narrative-tracker/models,
    # shared by every checkout, test session and `make demo`)
    models_dir: Path | None = None
    # passages
    max_passage_words: int = 30  # sentences are packed into passages up to this many words (about one sentence: docs/matching.md)
    # matching
    scorer: str = "exemplar-head"  # a registered scorer (narratives.matching.SCORERS)
    top_k_matches: int = 3  # narratives stored per passage, with their scores and evidence
    suggest_margin: float = 0.03  # below a threshold by at most this: "suggested", for review
    # scheduling (narratives serve)
    schedule_cron: str = "0 * * * *"
    timezone: str = "UTC"
    # behaviour
    progress: bool = True
    lock_wait_s: float = 60.0
    # dashboards read published snapshots (narratives.snapshots); how many to keep on disk
    snapshot_keep: int = 3

    @property
    def database(self) -> Path:
        return self.db_path or self.home / "narratives.duckdb"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def drafts_dir(self) -> Path:
        return self.home / "drafts"  # draft narratives saved from the dashboard's search

    def replace(self, **changes) -> Settings:
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: _coerce(known[k], v) for k, v in data.items()})

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Settings:
        """Defaults, then NARRATIVES_<NAME> variables, then explicit overrides (CLI flags)."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)


def _plain(value):
    return str(value) if isinstance(value, Path) else value


def _coerce(f: dataclasses.Field, value):
    if value is None:
        return None
    kind = str(f.type)
    try:
        if "Path" in kind:
            return Path(value)
        if kind == "bool":
            return (
                value
                if isinstance(value, bool)
                else str(value).lower() in ("1", "true", "yes", "on")
            )
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError as exc:
        raise ValueError(f"setting {f.name!r} expects {kind}, got {value!r}") from exc
    return value
