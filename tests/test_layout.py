"""The house rules of ../shared/DESIGN.md that import-linter cannot see: every table has one
owning stage, only that stage's modules write it, a stage reads only its own tables and those of
the stages before it, and the edges (CLI, flows, dashboards) hold no SQL at all."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from narratives.core.store import writer

ROOT = Path(__file__).resolve().parents[1]
# the order of ../shared/DESIGN.md's "Rooms": a stage may read the tables of those before it
STAGES = ["core", "passages", "ingest", "vectors", "matching", "labels", "prevalence", "discovery",
          "analytics", "evaluation"]  # fmt: skip
OWNER = {t: s for s in STAGES for t in importlib.import_module(f"narratives.{s}").TABLES}
WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|ALTER\s+TABLE|"
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW)(?:\s+IF\s+NOT\s+EXISTS)?)\s+(\w+)",
    re.IGNORECASE,
)
READ = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)", re.IGNORECASE)
STRING = re.compile(r'[rf]?("""[\s\S]*?"""|"[^"\n]*")')


def _sql_in(path: Path) -> str:
    return "\n".join(STRING.findall(path.read_text(encoding="utf-8")))


def _modules(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def test_every_table_and_view_has_one_owner(tmp_path):
    with writer(tmp_path / "t.duckdb") as con:
        names = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()}  # fmt: skip
    assert names and names <= set(OWNER), f"tables without an owning stage: {names - set(OWNER)}"
    declared = [t for s in STAGES for t in importlib.import_module(f"narratives.{s}").TABLES]
    assert len(declared) == len(set(declared)), "a table is declared by two stages"


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_writes_only_its_tables_and_reads_only_earlier_ones(stage):
    allowed = {t for t, s in OWNER.items() if STAGES.index(s) <= STAGES.index(stage)}
    for path in _modules(f"narratives/{stage}"):
        sql = _sql_in(path)
        written = {t for t in WRITE.findall(sql) if t in OWNER}
        assert {t for t in written if OWNER[t] != stage} == set(), f"{path} writes {written}"
        read = {t for t in READ.findall(sql) if t in OWNER}
        assert read <= allowed, f"{path} reads {read - allowed}, owned by a later stage"


def test_the_edges_hold_no_sql():
    for path in _modules("narratives/cli", "flows", "dashboards") + [
        ROOT / "narratives/pipeline.py"
    ]:
        sql = _sql_in(path)
        found = {t for t in WRITE.findall(sql) + READ.findall(sql) if t in OWNER}
        assert not found, f"{path} queries {found}: call the owning stage's queries instead"
