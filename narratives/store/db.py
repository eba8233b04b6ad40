"""Connections, migrations and the one write helper."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class DatabaseMissing(FileNotFoundError):
    pass


class DatabaseBusy(RuntimeError):
    pass


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("narratives.store.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return found


def schema_version(con) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]


def apply_migrations(con) -> list[int]:
    """Apply every migration newer than the database, each in its own transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    current = schema_version(con)
    applied = []
    for number, name, sql in migrations():
        if number <= current:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name]
            )
        log.info("applied migration %04d_%s", number, name)
        applied.append(number)
    return applied


@contextmanager
def transaction(con) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _open(path: Path, read_only: bool, wait_s: float):
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"{path} is open for writing in another process ({_pid_hint(exc)}); "
                    "wait for that pipeline step to finish, or stop it, then retry. "
                    "Dashboards read the published snapshot and never hold this file."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _pid_hint(exc: Exception) -> str:
    m = re.search(r"PID (\d+)", str(exc))
    return f"pid {m.group(1)}" if m else "see the process list"


@contextmanager
def writer(path: str | Path, wait_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The read-write connection for one step: migrations applied on open, closed on exit.

    Waits up to `wait_s` seconds for another process to let go of the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only=False, wait_s=wait_s)
    try:
        apply_migrations(con)
        yield con
        con.execute("CHECKPOINT")
    finally:
        con.close()


@contextmanager
def reader(path: str | Path, wait_s: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection. Fails clearly when there is no database yet."""
    path = Path(path)
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}; run `narratives run` first (or pass --db)")
    con = _open(path, read_only=True, wait_s=wait_s)
    try:
        version = schema_version(con)
        latest = migrations()[-1][0]
        if version < latest:
            raise RuntimeError(
                f"{path} has schema {version}, this version of narrative-tracker needs {latest}; "
                "run `narratives migrate` (or any pipeline step) to upgrade it"
            )
        yield con
    finally:
        con.close()


def fetch_arrow(con, sql: str, params: list | None = None):
    """A query's result as an Arrow table (one copy, no Python rows).

    DuckDB 2 refuses `con.sql` while an `execute()` result is unfinished (and `fetchone()` leaves
    it so): code in this project finishes its results with `fetchall()`.
    """
    return con.sql(sql, params=params or []).to_arrow_table()
