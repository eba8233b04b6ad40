"""The one run-record context manager: every run is begun `running` and finished `ok` or
`failed` with its error, whatever raises inside; a good pipeline run publishes its snapshot."""

from __future__ import annotations

from functools import partial

import pytest

from narratives import pipeline
from narratives.core.runs import get_run, run_record, update_run
from narratives.core.store import reader, writer
from narratives.prevalence import snapshots


def test_a_run_is_finished_ok_or_failed_with_its_error(tmp_path):
    db = tmp_path / "r.duckdb"
    seen = []
    with run_record(partial(writer, db), "probe", on_success=lambda con, i: seen.append(i)) as ok:
        with writer(db) as con:
            update_run(con, ok.id, counts={"things": 3})
    assert ok.row["status"] == "ok" and ok.row["counts"] == {"things": 3} and seen == [ok.id]
    with pytest.raises(ZeroDivisionError):
        with run_record(partial(writer, db), "probe") as bad:
            1 / 0  # noqa: B018
    with reader(db) as con:
        row = get_run(con, bad.id)
    assert row["status"] == "failed" and "ZeroDivisionError" in row["error"]
    assert row["finished_at"] is not None and bad.row["status"] == "failed"


def test_a_failed_pipeline_run_is_recorded_and_publishes_nothing(mini_settings, tmp_path):
    broken = mini_settings.replace(corpus=tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError):
        pipeline.run_pipeline(broken)
    with reader(broken.database) as con:
        ((status, error),) = con.execute("SELECT status, error FROM runs").fetchall()
    assert status == "failed" and "missing.jsonl" in error
    assert snapshots.current(broken.snapshots_dir) is None  # dashboards keep the last good one
