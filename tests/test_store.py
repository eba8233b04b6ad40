import subprocess
import sys
import textwrap

import pytest

from narratives.store import DatabaseBusy, DatabaseMissing, reader, schema_version, writer
from narratives.store.db import migrations


def test_migrations_apply_once_and_in_order(tmp_path):
    db = tmp_path / "t.duckdb"
    with writer(db) as con:
        assert schema_version(con) == migrations()[-1][0]
        applied = [
            r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ]
    with writer(db) as con:  # reopening applies nothing new
        again = [
            r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ]
    assert applied == again == [n for n, _, _ in migrations()]


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
            from narratives.store import writer
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
    finally:
        holder.kill()
        holder.wait()
    with reader(db) as con:  # once the writer is gone, readers get in
        assert schema_version(con) >= 1
