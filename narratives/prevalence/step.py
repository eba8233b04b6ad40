"""The aggregate step: the daily prevalence views rolled up into `prevalence_rollup`, exported
as Parquet for analysts; and publishing the read-only snapshot dashboards read."""

from __future__ import annotations

import time

from narratives.core import runs
from narratives.core.settings import Settings
from narratives.core.store import writer
from narratives.prevalence import rollup, snapshots


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
                  "prevalence_rollup_rows": rollup_rows}  # fmt: skip
        runs.update_run(
            con, run_id, counts=counts, timings={"aggregate_s": time.perf_counter() - started}
        )
    return counts


def publish_snapshot(settings: Settings, con, run_id: int | None) -> snapshots.Snapshot:
    """Copy the database (open for writing on `con`) and indexes into a new current snapshot."""
    return snapshots.publish(con, settings.database, settings.index_dir, settings.snapshots_dir,
                             run_id, keep=settings.snapshot_keep)  # fmt: skip
