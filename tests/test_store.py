import gzip
import logging
import shutil
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import duckdb
import pytest

from narratives.core.store import (
    DatabaseBusy,
    DatabaseMissing,
    DatabaseOutdated,
    applied_migrations,
    migrations,
    pending_migrations,
    reader,
    schema_version,
    writer,
)
from narratives.core.store import db as store_db

LEGACY_GZ = Path(__file__).parent / "data" / "schema" / "main-80515fa.duckdb.gz"
# What the previous main recorded in `schema_migrations`, as names.
LEGACY_NAMES = ["0001_init", "0002_ingest", "0004_discovery", "0006_prevalence_rollup"]


def shipped_stems() -> list[str]:
    """The migration files in the package folder, read without `migrations()`."""
    folder = resources.files("narratives.core.store.migrations")
    return sorted(e.name.removesuffix(".sql") for e in folder.iterdir() if e.name.endswith(".sql"))


def recorded(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY 1").fetchall()]


def base_tables(con) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def snapshot(con, tables, columns: dict[str, list[str]] | None = None) -> dict[str, list]:
    """Every row of each table, in the given columns (default all): a later migration may add
    columns, and must keep every value of the ones that were there."""
    columns = columns or {t: columns_of(con, t) for t in tables}
    return {t: con.execute(f"SELECT {', '.join(columns[t])} FROM \"{t}\" ORDER BY ALL").fetchall()
            for t in tables}  # fmt: skip


def columns_of(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]  # fmt: skip


@pytest.fixture
def legacy_db(tmp_path) -> Path:
    """A database made by main at 80515fa (ledger `schema_migrations`, versions 1, 2, 4, 6)."""
    path = tmp_path / "legacy.duckdb"
    with gzip.open(LEGACY_GZ, "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


@pytest.fixture
def ship_late_fix(tmp_path, monkeypatch):
    """Call to ship one more migration numbered below the latest: the package's files plus
    0003_late_fix, read from a copy of the folder by the real `migrations()`."""

    def ship() -> str:
        folder = tmp_path / "migrations"
        shutil.copytree(Path(str(resources.files("narratives.core.store.migrations"))), folder)
        (folder / "0003_late_fix.sql").write_text("CREATE TABLE late_fix (x INTEGER);\n")
        real = store_db.migrations
        monkeypatch.setattr(store_db, "migrations", lambda: real(folder))
        return "0003_late_fix"

    return ship


def test_recorded_migrations_are_the_shipped_file_stems(tmp_path):
    db = tmp_path / "t.duckdb"
    stems = shipped_stems()
    assert stems and [name for name, _ in migrations()] == stems
    with writer(db) as con:
        assert recorded(con) == stems
        assert pending_migrations(con) == []
        assert schema_version(con) == stems[-1]
    with writer(db) as con:  # reopening applies nothing new
        assert store_db.apply_migrations(con) == []
        assert recorded(con) == stems


def test_a_migration_numbered_below_the_latest_applied_still_runs(tmp_path, ship_late_fix):
    db = tmp_path / "t.duckdb"
    with writer(db):
        pass  # every shipped migration applied, 0006 the latest
    late = ship_late_fix()
    with pytest.raises(
        RuntimeError, match=r"lacks migrations 0003_late_fix; run `narratives migrate`"
    ):
        with reader(db):
            pass
    with writer(db) as con:
        assert con.execute("SELECT count(*) FROM late_fix").fetchall() == [(0,)]
        assert recorded(con) == sorted(shipped_stems() + [late])
    with reader(db) as con:
        assert pending_migrations(con) == []


def test_two_migrations_sharing_a_number_are_rejected(tmp_path):
    (tmp_path / "0001_init.sql").write_text("SELECT 1;")
    (tmp_path / "0001_other.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match="two migrations share a number"):
        migrations(tmp_path)
    (tmp_path / "0001_other.sql").unlink()
    (tmp_path / "3_fix.sql").write_text("SELECT 1;")  # would otherwise be skipped silently
    with pytest.raises(RuntimeError, match="3_fix.sql is not named"):
        migrations(tmp_path)


def test_a_database_made_by_the_previous_main_upgrades_in_place(legacy_db, caplog):
    with duckdb.connect(str(legacy_db)) as con:
        tables = base_tables(con)
        columns = {t: columns_of(con, t) for t in tables}
        before = snapshot(con, tables, columns)
    assert "_migrations" not in tables and len(before["schema_migrations"]) == 4
    assert len(before["documents"]) == 12 and len(before["embeddings"]) == 74
    new = [name for name, _ in migrations() if name not in LEGACY_NAMES]

    with caplog.at_level(logging.INFO, logger=store_db.__name__):
        with writer(legacy_db) as con:
            after = snapshot(con, tables, columns)
            names = recorded(con)
            assert applied_migrations(con) == names and pending_migrations(con) == []
    applied = [r.getMessage() for r in caplog.records if r.getMessage().startswith("applied ")]

    assert after == before  # every row of every table, the legacy ledger included
    assert names == sorted(LEGACY_NAMES + new)
    assert applied == [f"applied migration {name}" for name in new]  # nothing applied twice
    with reader(legacy_db) as con:
        assert pending_migrations(con) == []
        assert schema_version(con) == names[-1]


def test_a_reader_on_a_legacy_database_says_to_migrate(legacy_db, ship_late_fix):
    late_fix = ship_late_fix()
    with duckdb.connect(str(legacy_db)) as con:
        assert applied_migrations(con) == LEGACY_NAMES  # read from the legacy ledger
        pending = pending_migrations(con)
    shipped = [name for name, _ in store_db.migrations()]  # the package's plus the late fix
    assert pending == [n for n in shipped if n not in LEGACY_NAMES] and late_fix in pending
    with pytest.raises(
        DatabaseOutdated, match=rf"lacks migrations {pending[0]}.*narratives migrate"
    ):
        with reader(legacy_db):
            pass
    with duckdb.connect(str(legacy_db), read_only=True) as con:
        assert "_migrations" not in base_tables(con)  # the reader wrote nothing


def test_reader_on_a_missing_database_says_what_to_do(tmp_path):
    with pytest.raises(DatabaseMissing, match="narratives run"):
        with reader(tmp_path / "none.duckdb"):
            pass


def test_a_writer_in_another_process_gives_a_clear_busy_error(tmp_path):
    db = tmp_path / "busy.duckdb"
    with writer(db):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from narratives.core.store import writer
            with writer({str(db)!r}):
                print("holding", flush=True)
                time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(DatabaseBusy, match="open for writing in another process"):
            with reader(db, wait_s=0.5):
                pass
        with pytest.raises(DatabaseBusy, match=rf"\(pid {holder.pid}\)"):
            with writer(db, wait_s=0.5):
                pass
    finally:
        holder.kill()
        holder.wait()
    with reader(db) as con:  # once the writer is gone, readers get in
        assert schema_version(con) == shipped_stems()[-1]
