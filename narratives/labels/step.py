"""The labels step: what is new in the label journal goes into the `labels` table.

Runs first in every pipeline run (so the head is trained with every label given so far) and
alone as `narratives labels sync`. Idempotent twice over: each file is read on from the offset
stored for it, and a label's id is the hash of its content (INSERT OR IGNORE)."""

from __future__ import annotations

import logging
import time

import pyarrow as pa

from narratives.core import runs
from narratives.core.settings import Settings
from narratives.core.store import transaction, writer
from narratives.labels.inbox import files, read_from
from narratives.labels.model import FIELDS

log = logging.getLogger("narratives.labels")

COLUMNS = ("label_id", *FIELDS)


def store_labels(con, rows: list[dict]) -> int:
    """Insert labels not stored yet (by id) in the caller's write connection; returns how many."""
    if not rows:
        return 0
    before = con.execute("SELECT count(*) FROM labels").fetchall()[0][0]
    table = pa.table({k: [str(r[k]) if r.get(k) is not None and k in ("day", "labelled_at")
                          else r.get(k) for r in rows] for k in COLUMNS})  # fmt: skip
    con.register("_labels", table)
    try:
        con.execute(
            f"INSERT OR IGNORE INTO labels ({', '.join(COLUMNS)}) SELECT label_id, set_id, "
            "narrative_id, item_kind, stream, verdict, document_hash, passage_hash, lang, "
            "CAST(day AS DATE), stratum, CAST(stratum_share AS DOUBLE), CAST(score AS DOUBLE), "
            "set_version, model_id, CAST(run_id AS BIGINT), who, CAST(labelled_at AS TIMESTAMP) "
            "FROM _labels"
        )
    finally:
        con.unregister("_labels")
    return con.execute("SELECT count(*) FROM labels").fetchall()[0][0] - before


def sync_journal(con, labels_dir) -> dict:
    """Store the journal's new lines; returns counts and the problems found (one line each)."""
    new, read, problems = 0, 0, []
    for path in files(labels_dir):
        done = con.execute(
            "SELECT bytes_read FROM label_files WHERE file = ?", [path.name]
        ).fetchall()
        offset = done[0][0] if done else 0
        if path.stat().st_size <= offset:
            continue
        rows, bad, end = read_from(path, offset)
        with transaction(con):
            new += store_labels(con, rows)
            con.execute(
                "INSERT OR REPLACE INTO label_files (file, bytes_read, stored_at) "
                "VALUES (?, ?, current_timestamp)",
                [path.name, end],
            )
        read += len(rows)
        problems += bad
    for p in problems:
        log.warning("labels: skipped %s", p)
    return {"labels_read": read, "labels_new": new, "label_problems": len(problems)}


def labels_step(settings: Settings, run_id: int) -> dict:
    started = time.perf_counter()
    with writer(settings.database, settings.lock_wait_s) as con:
        counts = sync_journal(con, settings.labels_dir)
        counts["labels_total"] = con.execute("SELECT count(*) FROM labels").fetchall()[0][0]
        runs.update_run(con, run_id, counts=counts,
                        timings={"labels_s": time.perf_counter() - started})  # fmt: skip
    if counts["labels_new"]:
        log.info("labels: %d new analysts' labels stored, %d in all", counts["labels_new"],
                 counts["labels_total"])  # fmt: skip
    return counts
