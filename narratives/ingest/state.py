"""What each source has seen, and the lock that keeps two ingests from running at once.

`source_state` holds, per source, the conditional-request validators of its last fetch and the
ids of items it has delivered, so a re-run asks only for what is new. The lock is an fcntl lock on
`<home>/locks/ingest.lock`: the kernel drops it when the process dies, so a crashed ingest never
leaves a stale lock behind, and a second ingest is refused at once with the holder's pid.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


class IngestBusy(RuntimeError):
    """Another ingest holds the lock."""


@dataclass
class SourceState:
    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    seen: set[str] = field(default_factory=set)
    skipped: int = 0  # items of this read that were seen before (counted as duplicates)


def load_state(con, source_id: str) -> SourceState:
    rows = con.execute(
        "SELECT etag, last_modified, seen FROM source_state WHERE source_id = ?", [source_id]
    ).fetchall()
    state = SourceState(source_id)
    if rows:
        state.etag, state.last_modified, seen = rows[0]
        state.seen = set(seen or [])
    # everything stored under this source id has been seen, whatever the state row says
    state.seen |= {
        r[0]
        for r in con.execute(
            "SELECT external_id FROM documents WHERE source_id = ?", [source_id]
        ).fetchall()
    }
    return state


def save_state(
    con, source_id: str, kind: str, *, run_id: int | None, status: str, counts: dict,
    seen: set[str], etag: str | None = None, last_modified: str | None = None,
    error: str | None = None,
) -> None:  # fmt: skip
    con.execute(
        "INSERT INTO source_state (source_id, kind, etag, last_modified, seen, last_run_id, "
        "last_run_at, last_status, last_counts, last_error) "
        "VALUES (?, ?, ?, ?, ?, ?, current_timestamp, ?, ?, ?) "
        "ON CONFLICT (source_id) DO UPDATE SET kind = excluded.kind, etag = excluded.etag, "
        "last_modified = excluded.last_modified, "
        "seen = list_distinct(list_concat(coalesce(source_state.seen, []), excluded.seen)), "
        "last_run_id = excluded.last_run_id, last_run_at = excluded.last_run_at, "
        "last_status = excluded.last_status, last_counts = excluded.last_counts, "
        "last_error = excluded.last_error",
        [source_id, kind, etag, last_modified, sorted(seen), run_id, status,
         json.dumps(counts), error],
    )  # fmt: skip


@contextmanager
def ingest_lock(home: Path) -> Iterator[None]:
    """Hold the ingest lock for the block, or raise IngestBusy at once."""
    path = Path(home) / "locks" / "ingest.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise IngestBusy(
                f"another ingest is running ({holder}; lock {path}); wait for it to finish "
                "or stop it, then run again. Nothing was read or written."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
        fh.flush()
        yield
    finally:
        fh.close()  # closing the file releases the lock
