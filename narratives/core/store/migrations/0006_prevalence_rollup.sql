-- 0006: prevalence_daily materialised by the aggregate step. Over millions of match rows the
-- view's joins take seconds; its rollup is a few thousand rows. `rollup_state` holds a
-- fingerprint of what the rollup was computed from: readers use the rollup only while the
-- fingerprint still matches the tables, and the live view otherwise (narratives/rollup.py).
CREATE TABLE rollup_state (
    name          VARCHAR PRIMARY KEY,      -- the rolled-up view, e.g. prevalence_daily
    fingerprint   VARCHAR NOT NULL,
    run_id        BIGINT,
    refreshed_at  TIMESTAMP DEFAULT current_timestamp
);
