"""The aggregate step: the daily prevalence views rolled up into `prevalence_rollup`, exported
as Parquet for analysts; and publishing the read-only snapshot dashboards read."""

from __future__ import annotations

import time

from narratives.core import runs
from narratives.core.settings import Settings
from narratives.core.store import transaction, writer
from narratives.prevalence import corrected, rollup, snapshots
from narratives.prevalence.estimates import DEFAULT_METHOD


def aggregate_step(settings: Settings, run_id: int) -> dict:
    """Export the prevalence views as Parquet for analysts and report what the run tracks."""
    started = time.perf_counter()
    out = settings.exports_dir
    out.mkdir(parents=True, exist_ok=True)
    with writer(settings.database, settings.lock_wait_s) as con:
        # prevalence queries read this rollup while it is current (narratives/rollup.py)
        rollup_rows = rollup.refresh(con, run_id)
        # the daily export reads the rollup just written (the same rows) instead of the view again
        exports = {
            "prevalence_daily": f"SELECT * FROM {rollup.TABLE} WHERE lang <> 'all'",
            "prevalence_daily_all": f"SELECT * FROM {rollup.TABLE} WHERE lang = 'all'",
            "prevalence_weekly": "SELECT * FROM prevalence_weekly",
            "prevalence_weekly_all": "SELECT * FROM prevalence_weekly_all",
        }
        for name, query in exports.items():
            # the path is a bound value, never SQL text (a home folder may hold any character)
            con.execute(f"COPY ({query} ORDER BY ALL) TO $path (FORMAT parquet)",
                        {"path": str(out / f"{name}.parquet")})  # fmt: skip
        rows = con.execute(
            f"SELECT narrative_id, sum(matched_documents), sum(matched_passages) FROM {rollup.TABLE} "
            "WHERE lang = 'all' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        counts = {"documents_with_narrative": {r[0]: int(r[1]) for r in rows},
                  "prevalence_rollup_rows": rollup_rows,
                  "prevalence_corrected_rows": store_corrected(con, run_id, out)}  # fmt: skip
        runs.update_run(
            con, run_id, counts=counts, timings={"aggregate_s": time.perf_counter() - started}
        )
    return counts


def publish_snapshot(settings: Settings, con, run_id: int | None) -> snapshots.Snapshot:
    """Publish the database (open for writing on `con`) and indexes as the current snapshot:
    an old snapshot brought up to date with what changed, or a full copy (snapshots.publish)."""
    return snapshots.publish(con, settings.database, settings.index_dir, settings.snapshots_dir,
                             run_id, keep=settings.snapshot_keep)  # fmt: skip


CORRECTED = "prevalence_corrected"
# CREATE OR REPLACE drops comments: they are set again with the table (tables_guide, docs/sql.md)
CORRECTED_COMMENTS = {
    "": "the share of the event's coverage carrying each narrative, corrected for the tracker's "
        "error measured by the analysts' audit labels, per week and in total, per language and "
        "across languages (lang = 'all'); recomputed by every run and labels sync",
    "period_kind": "week | total", "period": "Monday of the week (NULL for total)",
    "narrative_id": "narrative id within its set", "lang": "en, ru, uk, or all",
    "documents": "documents the tracker counted as carrying it (raw)",
    "event_documents": "documents about the set's event (the denominator)",
    "share": "documents / event_documents, the raw share",
    "corrected": "the share corrected for the audited error (NULL until enough audit labels)",
    "corrected_lo": "95% interval of corrected, lower bound (includes the error rates' uncertainty)",
    "corrected_hi": "95% interval of corrected, upper bound",
    "audit_labels": "audit labels behind the correction", "note": "why there is no correction, or how it was made",
    "method": "the correction method", "run_id": "runs.id of the run that computed it",
}  # fmt: skip


def store_corrected(con, run_id: int | None, exports_dir=None) -> int:
    """The corrected shares (narratives.prevalence.corrected) per week and in total, per language
    and across languages, as the table `prevalence_corrected` (and its Parquet export) for
    analysts' SQL; recomputed after every run and every labels sync. Returns its rows."""
    import pyarrow as pa

    rows = []
    by_cell = corrected.audits(con)  # one read of the audit labels for the four row sets
    for by in ("week", "total"):
        for split in (True, False):
            for r in corrected.corrected_rows(con, by=by, split_lang=split, by_cell=by_cell):
                rows.append({"period_kind": by, "period": r["period"],
                             "narrative_id": r["narrative_id"], "lang": r["lang"],
                             "documents": int(r["matched_documents"]),
                             "event_documents": int(r["total_documents"]),
                             "share": r["share"], "corrected": r["corrected"],
                             "corrected_lo": r["corrected_lo"], "corrected_hi": r["corrected_hi"],
                             "audit_labels": int(r["audit_labels"]), "note": r["correction"],
                             "method": DEFAULT_METHOD, "run_id": run_id})  # fmt: skip
    schema = pa.schema([("period_kind", pa.string()), ("period", pa.date32()),
                        ("narrative_id", pa.string()), ("lang", pa.string()),
                        ("documents", pa.int64()), ("event_documents", pa.int64()),
                        ("share", pa.float64()), ("corrected", pa.float64()),
                        ("corrected_lo", pa.float64()), ("corrected_hi", pa.float64()),
                        ("audit_labels", pa.int64()), ("note", pa.string()),
                        ("method", pa.string()), ("run_id", pa.int64())])  # fmt: skip
    con.register("_corrected", pa.Table.from_pylist(rows, schema=schema))
    try:
        with transaction(con):
            con.execute(f"CREATE OR REPLACE TABLE {CORRECTED} AS SELECT * FROM _corrected")
            for column, text in CORRECTED_COMMENTS.items():
                target = f"COLUMN {CORRECTED}.{column}" if column else f"TABLE {CORRECTED}"
                quoted = text.replace("'", "''")  # COMMENT ON takes no parameters
                con.execute(f"COMMENT ON {target} IS '{quoted}'")
    finally:
        con.unregister("_corrected")
    if exports_dir is not None:
        con.execute(f"COPY (SELECT * FROM {CORRECTED} ORDER BY ALL) TO $path (FORMAT parquet)",
                    {"path": str(exports_dir / f"{CORRECTED}.parquet")})  # fmt: skip
    return len(rows)


def correct_step(settings: Settings, run_id: int) -> dict:
    """After a labels sync: the corrected shares again, with the new audit labels."""
    with writer(settings.database, settings.lock_wait_s) as con:
        settings.exports_dir.mkdir(parents=True, exist_ok=True)
        counts = {"prevalence_corrected_rows": store_corrected(con, run_id, settings.exports_dir)}
        runs.update_run(con, run_id, counts=counts)
    return counts
