"""The `runs` table: every step records the names and parameters of the parts it used, the model
id and narrative-set version, its counts and timings, so any number can be traced and reproduced."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

log = logging.getLogger("narratives.runs")


def start_run(
    con,
    kind: str,
    *,
    components: dict | None = None,
    parameters: dict | None = None,
    model_id: str | None = None,
    set_id: str | None = None,
    set_version: str | None = None,
) -> int:
    return con.execute(
        "INSERT INTO runs (kind, status, components, parameters, model_id, set_id, set_version, counts, timings) "
        "VALUES (?, 'running', ?, ?, ?, ?, ?, '{}', '{}') RETURNING id",
        [kind, _json(components), _json(parameters), model_id, set_id, set_version],
    ).fetchall()[0][0]


def update_run(
    con, run_id: int, *, counts: dict | None = None, timings: dict | None = None, **fields
) -> None:
    """Merge counts and timings into the run's record; set plain fields (model_id, set_version...)."""
    if counts:
        con.execute(
            "UPDATE runs SET counts = json_merge_patch(coalesce(counts, '{}'), ?) WHERE id = ?",
            [_json(counts), run_id],
        )
    if timings:
        con.execute(
            "UPDATE runs SET timings = json_merge_patch(coalesce(timings, '{}'), ?) WHERE id = ?",
            [_json({k: round(v, 3) for k, v in timings.items()}), run_id],
        )
    allowed = {"model_id", "set_id", "set_version", "components", "parameters"}
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(f"runs has no settable field {key!r}")
        if key in ("components", "parameters"):
            con.execute(
                f"UPDATE runs SET {key} = json_merge_patch(coalesce({key}, '{{}}'), ?) WHERE id = ?",
                [_json(value), run_id],
            )
        else:
            con.execute(f"UPDATE runs SET {key} = ? WHERE id = ?", [value, run_id])


def finish_run(
    con, run_id: int, status: str = "ok", error: BaseException | str | None = None
) -> None:
    if isinstance(error, BaseException):
        error = "".join(traceback.format_exception_only(type(error), error)).strip()
    con.execute(
        "UPDATE runs SET status = ?, finished_at = current_timestamp, error = ? WHERE id = ?",
        [status, error, run_id],
    )


def get_run(con, run_id: int) -> dict:
    cur = con.execute("SELECT * FROM runs WHERE id = ?", [run_id])
    rows = cur.fetchall()
    if not rows:
        raise KeyError(f"no run {run_id}")
    cols = [d[0] for d in cur.description]
    out = dict(zip(cols, rows[0], strict=True))
    for key in ("components", "parameters", "counts", "timings"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


def _json(value) -> str | None:
    return (
        None
        if value is None
        else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    )


class RunRecord:
    """The handle `run_record` yields: the run's id now, its finished row after the block."""

    def __init__(self, run_id: int):
        self.id = run_id
        self.row: dict | None = None


@contextmanager
def run_record(
    open_db: Callable[[], AbstractContextManager],
    kind: str,
    *,
    on_success: Callable[[object, int], None] | None = None,
    **fields,
) -> Iterator[RunRecord]:
    """Begin a run (status `running`), yield its handle, and finish it `ok` or `failed` with the
    error; the finished row is left in `handle.row`. `open_db` opens the write connection for
    each bookkeeping write only, so nothing is held between steps. `on_success(con, run_id)` runs
    in the same connection right after the run is marked ok (the pipeline publishes its snapshot
    there, so the snapshot holds the finished run)."""
    with open_db() as con:
        record = RunRecord(start_run(con, kind, **fields))
    log.info("run %d started (%s)", record.id, kind)
    try:
        yield record
    except BaseException as exc:
        with open_db() as con:
            finish_run(con, record.id, "failed", exc)
            record.row = get_run(con, record.id)
        raise
    with open_db() as con:
        finish_run(con, record.id, "ok")
        if on_success is not None:
            on_success(con, record.id)
        record.row = get_run(con, record.id)
