"""docs/sql.md is executable: every ```sql block runs against a database built by the real
pipeline and returns rows with the columns its first line names; every public table, view and
column carries a comment, and no public count is a HUGEINT."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from narratives.core.store import reader
from tests import analyst_db

DOC = Path(__file__).resolve().parents[1] / "docs" / "sql.md"
RECIPES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def analyst(tmp_path_factory, e5):
    return analyst_db.build(tmp_path_factory.mktemp("analyst"), e5)


def test_the_guide_has_at_least_ten_recipes():
    assert len(RECIPES) >= 10


@pytest.mark.parametrize("sql", RECIPES, ids=[f"recipe-{i + 1}" for i in range(len(RECIPES))])
def test_recipe_runs_and_returns_its_columns(analyst, sql):
    first = sql.splitlines()[0]
    assert first.startswith("-- columns:"), "a recipe's first line names its columns"
    columns = [c.strip() for c in first.removeprefix("-- columns:").split(",")]
    with reader(analyst.database) as con:
        cur = con.execute(sql)
        rows = cur.fetchall()
        assert [d[0] for d in cur.description] == columns
    assert rows, "the recipe returned nothing on the fixture database"


def test_every_public_table_view_and_column_has_a_comment(analyst):
    with reader(analyst.database) as con:
        public = con.execute("SELECT relation, comment FROM tables_guide WHERE public").fetchall()
        internal = con.execute("SELECT relation, comment FROM tables_guide WHERE NOT public").fetchall()  # fmt: skip
        names = [r for r, _ in public]
        bare = con.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND list_contains(?, table_name) "
            "AND coalesce(trim(comment), '') = ''",
            [names],
        ).fetchall()
    assert len(public) >= 25 and {"prevalence_by_day", "live_matches", "calendar"} <= set(names)
    assert [r for r, c in public if not (c or "").strip()] == []
    assert bare == []
    # internal ones say so, so a reader of duckdb_tables() alone is not misled either
    assert [r for r, c in internal if r != "schema_migrations" and not (c or "").startswith("internal")] == []  # fmt: skip


def test_public_counts_are_bigint_and_the_spine_has_every_day(analyst):
    with reader(analyst.database) as con:
        huge = con.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND data_type IN ('HUGEINT', 'UHUGEINT')"
        ).fetchall()
        first, last, days = con.execute(
            "SELECT min(day), max(day), count(*) FROM calendar"
        ).fetchall()[0]
        per_series = con.execute(
            "SELECT DISTINCT count(*) FROM prevalence_by_day GROUP BY narrative_id, lang"
        ).fetchall()
        quiet = con.execute(
            "SELECT count(*) FROM prevalence_by_day WHERE total_documents = 0 "
            "AND document_share IS NULL AND matched_documents = 0"
        ).fetchall()[0][0]
    assert huge == []
    assert days == (last - first).days + 1 and per_series == [(days,)]
    assert quiet > 0  # a language with a day without coverage: a row of zeros, not a gap


def test_the_wilson_macros_agree_with_statsmodels(tmp_path):
    # the interval is SQL (the views need it); statsmodels checks the arithmetic
    from statsmodels.stats.proportion import proportion_confint

    from narratives.core.store import writer

    cases = [(0, 5), (1, 4), (2, 2), (7, 40), (30, 31), (123, 1000)]
    with writer(tmp_path / "w.duckdb") as con:
        got = [con.execute("SELECT wilson_lo(?, ?), wilson_hi(?, ?)", [x, n, x, n]).fetchall()[0]
               for x, n in cases]  # fmt: skip
    for (x, n), (lo, hi) in zip(cases, got, strict=True):
        want = proportion_confint(x, n, alpha=0.05, method="wilson")
        assert lo == pytest.approx(want[0], abs=2e-4) and hi == pytest.approx(want[1], abs=2e-4)
