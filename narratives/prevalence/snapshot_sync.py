"""Bring an older snapshot file up to date with the database: the cost follows the change.

A full copy of the database writes its whole size on every run however little the run changed
(issue 15: 511 MB of snapshots beside a 191 MB database at 10k documents; in wall time the
kernel's copy is fast, see docs/operations.md for both measured). Instead, `refresh`
ATTACHes a snapshot file nobody reads any more (`snapshots.publish` picks it and makes sure) to
the writer's connection and writes into it only what differs:

- `Append` tables grow by new rows and are never updated in place (documents, passages, their
  vectors, MinHash bands, cluster members): the rows past the snapshot's high-water mark are
  inserted (an anti-join on the key keeps a row at the mark from going in twice).
- `ByRun` tables are rewritten row by row by the match step, always with the writing run's
  `run_id` (matches, passage_scope: INSERT OR REPLACE, and DELETE when the head's labels
  changed). The rows of runs the snapshot had not seen finish (ids past its newest run, or runs
  it saw `running`) replace the snapshot's rows with the same key.
- Everything else (runs, outlets, the prevalence tables the aggregate step replaces, any table a
  later migration adds) is small and replaced whole: an undeclared table is correct by default.

After each incremental table the row counts must agree, or the table is replaced whole: that
catches rows deleted without a new row, and rows inserted out of id order by a concurrent
transaction. What counts cannot see is an UPDATE of an old row of an `Append` table or one that
keeps its `run_id` in a `ByRun` table: the code writes neither (tests/test_snapshots.py checks
every table's contents after runs with rescoring); a stage that starts to must move its table.
The snapshot's sequences are drawn up to the database's, so it can be copied back as the
database. A snapshot whose schema differs (a migration ran), or one far behind (`MAX_LAG`),
raises `Stale`: the caller copies in full.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ALIAS = "snapshot_refresh"
# Above this share of the corpus tables' rows missing, copy instead: per row, a refresh costs
# ~20x what the kernel's copy does at 10k documents (benchmarks/snapshot.py, docs/operations.md)
MAX_LAG = 0.25


class Stale(RuntimeError):
    """The snapshot cannot be brought up to date in place (another schema, far behind, or a
    sequence that cannot be advanced): the caller copies in full."""


@dataclass(frozen=True)
class Append:
    key: tuple[str, ...]
    mark: str  # a column that only grows with new rows: min/max zonemaps skip the old ones


@dataclass(frozen=True)
class ByRun:
    key: tuple[str, ...]


# only the tables that grow with the corpus; the rest are replaced whole (see the docstring)
TABLES: dict[str, Append | ByRun] = {
    "documents": Append(("id",), "id"),
    "passages": Append(("id",), "id"),
    "minhash_bands": Append(("band", "bucket", "document_id"), "document_id"),
    # created_at is the inserting transaction's start: a slower transaction may commit a row
    # with an older stamp after the snapshot; then the counts disagree and the table is copied
    "embeddings": Append(("model_id", "text_hash"), "created_at"),
    "cluster_members": Append(("cluster_id", "passage_id"), "cluster_id"),
    "matches": ByRun(("passage_id", "set_id", "set_version", "model_id", "narrative_id")),
    "passage_scope": ByRun(("passage_id", "set_id", "set_version", "model_id")),
}


def refresh(con, path: Path) -> dict[str, str]:
    """Make the DuckDB file at `path` hold exactly what `con`'s database holds, writing only what
    changed; returns how each table was brought up to date. The caller holds the write
    connection (nothing changes meanwhile) and guarantees no one else has `path` open."""
    main = con.execute("SELECT current_database()").fetchall()[0][0]
    quoted = str(path).replace("'", "''")  # ATTACH takes no parameters
    con.execute(f"ATTACH '{quoted}' AS {ALIAS}")
    try:
        if _catalog(con, main) != _catalog(con, ALIAS):
            raise Stale(f"{path} has another schema than the database")
        # a snapshot far behind (one made when the corpus was small) costs more to catch up
        # row by row than the copy does
        tables = _tables(con, main)
        have, want = (
            sum(_count(con, db, t) for t in TABLES if t in tables) for db in (ALIAS, main)
        )
        if have < want * (1 - MAX_LAG):
            raise Stale(f"{path} lacks {want - have} of {want} corpus rows")
        started = time.perf_counter()
        done = {}
        con.execute("BEGIN TRANSACTION")
        try:
            seen = _runs_seen(con)
            for table in tables:
                done[table] = _sync(con, main, table, TABLES.get(table), seen)
            _advance_sequences(con, main)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute(f"CHECKPOINT {ALIAS}")  # readers open it read-only: nothing left in a WAL
        log.info("snapshot refreshed in %.2fs: %s", time.perf_counter() - started, done)
        return done
    finally:
        con.execute(f"DETACH {ALIAS}")


def _tables(con, db: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "AND NOT temporary ORDER BY 1", [db]).fetchall()]  # fmt: skip


def _catalog(con, db: str) -> list:
    """What a reader sees of the schema: the migrations applied (which made the macros too),
    tables, columns, views, indexes and their comments. Sequences' positions are not schema:
    `_advance_sequences` brings them along."""
    queries = [
        f"SELECT name FROM {db}._migrations",
        "SELECT table_name, sql, comment FROM duckdb_tables() WHERE database_name = $db",
        "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = $db",
        "SELECT view_name, sql, comment FROM duckdb_views() WHERE database_name = $db "
        "AND NOT internal",
        "SELECT index_name, table_name, sql FROM duckdb_indexes() WHERE database_name = $db",
        "SELECT sequence_name FROM duckdb_sequences() WHERE database_name = $db",
    ]
    out = []
    for q in queries:
        params = {"db": db} if "$db" in q else None
        # a table's CREATE text names no database, so the two catalogs compare as they are
        out.append(sorted(map(repr, con.execute(q + " ORDER BY ALL", params).fetchall())))
    return out


def _advance_sequences(con, main: str) -> None:
    """Draw from the snapshot's sequences up to where the database's stand: a snapshot copied
    back as the database (the fix for a damaged one) must not hand out ids already taken."""
    rows = con.execute(
        "SELECT m.sequence_name, m.last_value, s.last_value, s.start_value, m.increment_by "
        "FROM duckdb_sequences() m JOIN duckdb_sequences() s USING (sequence_name) "
        "WHERE m.database_name = ? AND s.database_name = ?", [main, ALIAS]
    ).fetchall()  # fmt: skip
    for name, want, have, start, step in rows:
        if want == have:
            continue
        if want is None or step != 1 or (have is not None and have > want):
            raise Stale(f"sequence {name} cannot be brought from {have} to {want}")
        # never drawn from, a sequence's next value is its start
        draws = want - have if have is not None else want - start + 1
        con.execute(
            f"SELECT max(nextval('{ALIAS}.main.\"{name}\"')) FROM range({int(draws)})"
        ).fetchall()


def _runs_seen(con) -> tuple[int, list[int]]:
    """The snapshot's newest run id and the runs it saw running: rows of any other run were
    written before the snapshot was made, so they are in it already."""
    newest, running = con.execute(
        f"SELECT coalesce(max(id), 0), coalesce(list(id) FILTER (status = 'running'), []) "
        f"FROM {ALIAS}.runs"
    ).fetchall()[0]
    return int(newest), [int(i) for i in running]


def _count(con, db: str, table: str) -> int:
    return con.execute(f'SELECT count(*) FROM {db}."{table}"').fetchall()[0][0]


def _sync(con, main: str, table: str, how, seen: tuple[int, list[int]]) -> str:
    src, dst = f'{main}."{table}"', f'{ALIAS}."{table}"'
    if how is not None:
        on = " AND ".join(f'd."{k}" = s."{k}"' for k in how.key)
        if isinstance(how, Append):
            mark = con.execute(f'SELECT max("{how.mark}") FROM {dst}').fetchall()[0][0]
            if mark is None:  # an empty snapshot table has no mark
                con.execute(f"INSERT INTO {dst} SELECT * FROM {src}")
            else:
                # rows at the mark itself may have come after the snapshot; as rows are never
                # changed, only a row at the mark can be in both, so only those are looked up
                # (a constant mark lets DuckDB skip the older row groups on both sides)
                con.execute(
                    f'INSERT INTO {dst} SELECT * FROM {src} s WHERE s."{how.mark}" > $mark OR '
                    f'(s."{how.mark}" = $mark AND NOT EXISTS (SELECT 1 FROM {dst} d '
                    f'WHERE d."{how.mark}" = $mark AND {on}))',
                    {"mark": mark},
                )
        else:
            newest, running = seen
            changed = (
                "(s.run_id IS NULL OR s.run_id > $newest OR list_contains($running, s.run_id))"
            )
            params = {"newest": newest, "running": running}
            con.execute(f"DELETE FROM {dst} d USING {src} s WHERE {on} AND {changed}", params)
            con.execute(f"INSERT INTO {dst} SELECT * FROM {src} s WHERE {changed}", params)
        if _count(con, ALIAS, table) == _count(con, main, table):
            return type(how).__name__.lower()
        # rare (the code never does it on purpose), and still correct: say so for the curious
        log.info("snapshot: %s changed other than by %s; copied whole", table, type(how).__name__)
    con.execute(f"DELETE FROM {dst}")
    con.execute(f"INSERT INTO {dst} SELECT * FROM {src}")
    return "replaced"
