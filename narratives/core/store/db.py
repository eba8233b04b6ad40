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

from narratives.core.store import handoff

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# Migrations are recorded and applied by NAME (the file stem, e.g. `0001_init`), as simonw/llm
# does: every shipped migration whose name is not recorded gets applied. Comparing numbers with
# the highest applied one would silently skip a migration numbered below it (one merged late
# from a branch, say). The number prefix only fixes the order and must be unique.
_CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS _migrations ("
    " name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)"
)
# The table the code before this kept: (version INTEGER, name without its number, applied_at).
_LEGACY = "schema_migrations"


class DatabaseMissing(FileNotFoundError):
    pass


class DatabaseBusy(RuntimeError):
    pass


class DatabaseOutdated(RuntimeError):
    """A database made by an older version, opened read-only: a writer must migrate it first."""


class DatabaseUnreadable(RuntimeError):
    """A database file DuckDB cannot open (not a lock): said in one line with the file and the fix."""

    def __init__(self, path: Path, reason: str, message: str | None = None):
        self.path, self.reason = Path(path), reason
        super().__init__(message or f"cannot open {path}: {reason}")


class DatabaseDamaged(DatabaseUnreadable):
    """A database file (or its write-ahead log) that is damaged or not a DuckDB database."""

    def __init__(self, path: Path, reason: str):
        path = Path(path)
        if path.name.endswith(".wal"):
            fix = (f"move {path.name} aside to open the database as of its last checkpoint, "
                   "then run `narratives run` to redo what was lost")  # fmt: skip
        else:
            fix = (
                "move it aside, then copy back the narratives.duckdb of the newest snapshot "
                "(in the snapshots folder of --home) or run `narratives run` to rebuild it"
            )
        super().__init__(path, reason, f"{path} is damaged ({reason}); {fix}")


# What DuckDB says about a file it cannot use, and the reason given to the user.
_DAMAGE = [
    ("not a valid DuckDB database file", "not a DuckDB database file"),
    ("Could not read enough bytes", "the file is cut short"),
    ("Corrupt WAL file", "an entry fails its checksum"),
    ("Corrupt database file", "a block fails its checksum"),
    ("checksum", "a block fails its checksum"),
    ("Failure while replaying WAL", "it cannot be replayed"),
]


def _unreadable(path: Path, exc: Exception) -> DatabaseUnreadable:
    """The one-line error for a DuckDB error about the file itself (not about a query)."""
    text = str(exc)
    wal = re.search(r'WAL file "([^"]+)"', text)
    for needle, reason in _DAMAGE:
        if needle in text:
            return DatabaseDamaged(Path(wal.group(1)) if wal else path, reason)
    # anything else: DuckDB's own words, without its prefix and without repeating the path
    reason = re.sub(r"^[A-Za-z ]*Error: ", "", text.splitlines()[0] if text else type(exc).__name__)
    return DatabaseUnreadable(path, reason.replace(f'"{path}"', "the file").strip())


def _is_damage(exc: Exception) -> bool:
    return any(needle in str(exc) for needle, _ in _DAMAGE)


def migrations(folder: Path | None = None) -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package (or in `folder`), in name order."""
    folder = folder or resources.files("narratives.core.store.migrations")
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        if not _MIGRATION_NAME.match(entry.name):  # a misnamed file must not be skipped silently
            raise RuntimeError(f"migration {entry.name} is not named NNNN_lowercase_words.sql")
        found.append((entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [name[:4] for name, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {[name for name, _ in found]}")
    return found


def _has_table(con, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_name = ? AND table_schema = current_schema()",
            [name],
        ).fetchall()[0][0]
    )


def _legacy_names(con) -> list[str]:
    if not _has_table(con, _LEGACY):
        return []
    rows = con.execute(f"SELECT version, name FROM {_LEGACY} ORDER BY version").fetchall()
    return [f"{version:04d}_{name}" for version, name in rows]


def applied_migrations(con) -> list[str]:
    """Names of the migrations applied to the database, in name order.

    A database not yet opened by a writer of this version has only the legacy table; its
    records are read from there, so a read-only connection sees what the schema really is.
    """
    names = []
    if _has_table(con, "_migrations"):
        names = [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY 1").fetchall()]
    return names or _legacy_names(con)


def pending_migrations(con) -> list[str]:
    """Names of the shipped migrations the database lacks, in the order they would be applied."""
    applied = set(applied_migrations(con))
    return [name for name, _ in migrations() if name not in applied]


def schema_version(con) -> str | None:
    """The latest applied migration's name (kept for the `narratives migrate` message)."""
    applied = applied_migrations(con)
    return applied[-1] if applied else None


def apply_migrations(con) -> list[str]:
    """Apply every shipped migration not recorded yet, each in its own transaction; their names."""
    # Upgrade from the legacy ledger: copy its rows as names, with creating `_migrations`, in one
    # transaction, so a crash leaves either the old state or the finished copy. The legacy table
    # is kept untouched: nothing stored is lost, and it still says what an older build applied.
    with transaction(con):
        con.execute(_CREATE_LEDGER)
        if not con.execute("SELECT count(*) FROM _migrations").fetchall()[0][0]:
            for name in _legacy_names(con):
                con.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
    done = set(applied_migrations(con))
    applied = []
    for name, sql in migrations():
        if name in done:
            continue
        with transaction(con):  # the schema change and its record stand or fall together
            con.execute(sql)
            con.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
        log.info("applied migration %s", name)
        applied.append(name)
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


def _busy(path: Path, pid_hint: str) -> DatabaseBusy:
    return DatabaseBusy(
        f"{path} is open for writing in another process ({pid_hint}); "
        "wait for that pipeline step to finish, or stop it, then retry. "
        "Dashboards read the published snapshot and never hold this file."
    )


@contextmanager
def _connection(path: Path, read_only: bool, wait_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB's connection, opened once this process holds the database's lock file (see
    handoff.py for why DuckDB's own lock is not enough); closed before the lock is let go."""
    deadline = time.monotonic() + wait_s

    def busy() -> DatabaseBusy:
        pid = handoff.holder(path)
        return _busy(path, f"pid {pid}" if pid else "see the process list")

    with handoff.held(path, exclusive=not read_only, wait_s=wait_s, busy=busy):
        con = _open(path, read_only, max(deadline - time.monotonic(), 0.0))
        try:
            yield con
        finally:
            con.close()


def _open(path: Path, read_only: bool, wait_s: float):
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            # "Could not set lock on file": another process holds it (not "block": damage)
            if not isinstance(exc, duckdb.IOException) or not re.search(r"\block\b", str(exc)):
                raise _unreadable(path, exc) from exc
            if time.monotonic() >= deadline:
                raise _busy(path, _pid_hint(exc)) from exc
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
    with _connection(path, read_only=False, wait_s=wait_s) as con:
        try:
            apply_migrations(con)
            yield con
            con.execute("CHECKPOINT")
        except duckdb.Error as exc:  # damage found past the first pages: still one clear line
            if _is_damage(exc):
                raise _unreadable(path, exc) from exc
            raise


@contextmanager
def reader(path: str | Path, wait_s: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection. Fails clearly when there is no database yet."""
    path = Path(path)
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}; run `narratives run` first (or pass --db)")
    with _connection(path, read_only=True, wait_s=wait_s) as con:
        try:
            # A read-only connection cannot apply or record anything: say what is missing.
            pending = pending_migrations(con)
            if pending:
                raise DatabaseOutdated(
                    f"{path} lacks migrations {', '.join(pending)}; "
                    "run `narratives migrate` (or any pipeline step) to apply them"
                )
            yield con
        except duckdb.Error as exc:
            if _is_damage(exc):
                raise _unreadable(path, exc) from exc
            raise


def fetch_arrow(con, sql: str, params: list | None = None):
    """A query's result as an Arrow table (one copy, no Python rows).

    DuckDB 2 refuses `con.sql` while an `execute()` result is unfinished (and `fetchone()` leaves
    it so): code in this project finishes its results with `fetchall()`.
    """
    return con.sql(sql, params=params or []).to_arrow_table()
