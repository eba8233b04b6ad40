"""The `runs` table: every step records the names and parameters of the parts it used, the model
id and narrative-set version, its counts and timings, so any number can be traced and reproduced.

A run is begun `running` and finished `ok` or `failed`. A process killed outright (kill -9, power
loss) cannot finish its row, so while a run is running its row names its process in
`counts.process` (pid, host, start time); the next run to start closes every `running` row whose
process is gone as `failed`, "interrupted (process <pid> is gone)". The entry is removed when a
run finishes. Rows from another host are left alone: whether their process lives cannot be told.

`is_transient` says which failures are worth trying again after a pause (the Prefect flows and
`narratives run --no-prefect` retry those only); anything else fails at once with its message.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

log = logging.getLogger("narratives.runs")

T = TypeVar("T")


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (Linux): state first, start time
    (clock ticks since boot) at 19. Raises OSError where there is no such entry."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
        stat = fh.read()
    return stat[stat.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> int | None:
    """When the process started, to tell a reused pid apart (None without /proc)."""
    try:
        return int(_proc_stat(pid)[19])
    except (OSError, ValueError, IndexError):
        return None


def this_process() -> dict:
    """What a running row records of the process that runs it."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "started": _start_ticks(pid)}


def process_gone(process: dict) -> bool:
    """Whether the process a running row names has ended (on this host; False if unknown)."""
    pid = process.get("pid")
    if not isinstance(pid, int) or process.get("host") != socket.gethostname():
        return False
    try:
        fields = _proc_stat(pid)
    except FileNotFoundError:
        return os.path.isdir("/proc")  # no entry in a /proc that exists: the process is gone
    except OSError:
        fields = None
    if fields is not None:
        if fields[0] in ("Z", "X"):  # ended, not yet reaped by its parent
            return True
        started = process.get("started")
        return started is not None and int(fields[19]) != started  # the pid was reused
    try:  # no /proc (macOS): signal 0 asks whether the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def close_stale_runs(con) -> list[int]:
    """Finish as failed every `running` row whose process is gone; their ids."""
    closed = []
    for run_id, process in con.execute(
        "SELECT id, json_extract(counts, '$.process') FROM runs WHERE status = 'running'"
    ).fetchall():
        process = json.loads(process) if isinstance(process, str) else process
        if isinstance(process, dict) and process_gone(process):
            finish_run(con, run_id, "failed", f"interrupted (process {process['pid']} is gone)")
            log.warning("run %d was left running by process %s, which is gone: marked failed",
                        run_id, process["pid"])  # fmt: skip
            closed.append(run_id)
    return closed


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
    """Begin a run `running`, naming this process; first close the runs killed before."""
    close_stale_runs(con)
    return con.execute(
        "INSERT INTO runs (kind, status, components, parameters, model_id, set_id, set_version, counts, timings) "
        "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, '{}') RETURNING id",
        [
            kind,
            _json(components),
            _json(parameters),
            model_id,
            set_id,
            set_version,
            _json({"process": this_process()}),
        ],  # fmt: skip
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
    # the process entry says who runs a running row; a finished row needs none
    con.execute(
        "UPDATE runs SET status = ?, finished_at = current_timestamp, error = ?, "
        """counts = json_merge_patch(coalesce(counts, '{}'), '{"process": null}') WHERE id = ?""",
        [status, error, run_id],
    )


def is_transient(exc: BaseException) -> bool:
    """A failure worth trying again after a pause: the database briefly held by another process,
    or the network (a connection refused or reset, a timeout). Bad input, a missing file, a
    damaged database or a bug is not: trying again would fail the same way."""
    from narratives.core.store.db import DatabaseBusy

    if isinstance(exc, DatabaseBusy | ConnectionError | TimeoutError):
        return True
    if getattr(exc, "network", False) is True:  # narratives.ingest.http.FetchError says so
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - a dependency
        return False
    return isinstance(exc, httpx.TransportError)


def retry_transient(fn: Callable[[], T], delays_s: Sequence[float], what: str = "run") -> T:
    """`fn()`, tried again after each delay in turn while it fails with a transient error."""
    for attempt, delay in enumerate([*delays_s, None], start=1):
        try:
            return fn()
        except Exception as exc:
            if delay is None or not is_transient(exc):
                raise
            log.warning("%s failed (%s); trying again in %g s (try %d of %d)", what, exc, delay,
                        attempt + 1, len(delays_s) + 1)  # fmt: skip
            time.sleep(delay)
    raise AssertionError("not reached")  # pragma: no cover


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
