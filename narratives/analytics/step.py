"""The alerts step: alerts for every live narrative and for the clusters of the latest
clustering, stored once each (same subject, day, language and test)."""

from __future__ import annotations

import time

from narratives.analytics.alerts import find_alerts, store_alerts
from narratives.core import runs
from narratives.core.settings import AlertSettings, Settings
from narratives.core.store import writer
from narratives.discovery.queries import latest_cluster_ids


def alerts_step(settings: Settings, run_id: int, params: AlertSettings | None = None) -> dict:
    started = time.perf_counter()
    params = params or settings.alerts
    with writer(settings.database, settings.lock_wait_s) as con:
        found = find_alerts(con, "narrative", params)
        # clusters of the latest clustering only: older ones are superseded
        ids = {str(i) for i in latest_cluster_ids(con)}
        if ids:
            found += [a for a in find_alerts(con, "cluster", params)
                      if a["subject_id"] in ids]  # fmt: skip
        new = store_alerts(con, found, run_id)
        runs.update_run(
            con, run_id, counts={"alerts_found": len(found), "alerts_new": new},
            timings={"alerts_s": time.perf_counter() - started},
            parameters={"alerts": params.model_dump() | {"test": params.test}},
        )  # fmt: skip
    return {"alerts_found": len(found), "alerts_new": new}
