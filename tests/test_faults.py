"""Faults (issue 14, items 8, 9, 12 and "What to build"): damaged files, kill -9, permanent and
transient errors, and the CLI's one error boundary. Real processes: `narratives` runs as a child
process and is killed with SIGKILL at each step of a run (when the step's log line appears on
stderr and the step has written to the database, its write-ahead log appeared), then run again;
every table must then equal an uninterrupted run's, and the killed run's row is closed as failed.
The real e5-small model on the 12 documents of tests/data/mini-corpus.jsonl keeps each run to
seconds."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from narratives.cli import main
from narratives.core.runs import run_record
from narratives.core.store import DatabaseBusy, reader, writer
from narratives.prevalence import snapshots

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "narratives.cli"]
SET = DATA / "mini-set.yaml"
CORPUS = DATA / "mini-corpus.jsonl"


def child_env() -> dict[str, str]:
    """The environment of a `narratives` child: no progress bars; Prefect's home and API are
    the child's own (under its --home), not this test session's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NARRATIVES_"))}
    return env | {"NARRATIVES_PROGRESS": "false", "PYTHONUNBUFFERED": "1"}


def run_args(home: Path, *extra: str) -> list[str]:
    return ["--home", str(home), "run", "--corpus", str(CORPUS), "--narratives", str(SET), *extra]


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def rows(db: Path, sql: str, params=None) -> list[tuple]:
    with reader(db, wait_s=30) as con:
        return con.execute(sql, params or []).fetchall()


# --- 8. a damaged database or snapshot pointer: one line naming the file and the fix --------------
def _real_database(path: Path) -> Path:
    with writer(path) as con:  # every migration: a real file with a catalog and tables
        con.execute("INSERT INTO outlets (id, name) VALUES ('o', 'An Outlet')")
    return path


def _damage(db: Path, how: str) -> Path:
    """Damage the database at `db` in one of the ways disks and copies do; the file to name."""
    if how == "not a database":
        db.write_bytes(b"these bytes were never a database\n" * 200)
        return db
    data = _real_database(db).read_bytes()
    if how == "truncated":
        db.write_bytes(data[:5000])
    elif how == "checksum":
        scribbled = bytearray(data)
        for i in range(12_288 + 64, len(scribbled), 97):
            scribbled[i] ^= 0xA5
        db.write_bytes(bytes(scribbled))
    elif how == "write-ahead log":  # a copy taken while a writer had unsaved changes, then hurt
        import duckdb

        live = _real_database(db.with_name("live.duckdb"))
        con = duckdb.connect(str(live))
        con.execute("INSERT INTO outlets (id, name) VALUES ('p', 'Another Outlet')")
        db.write_bytes(live.read_bytes())
        log = bytearray(live.with_name(live.name + ".wal").read_bytes())
        con.close()
        for i in range(len(log) // 2, len(log), 3):
            log[i] ^= 0xFF
        wal = db.with_name(db.name + ".wal")
        wal.write_bytes(bytes(log))
        return wal
    return db


@pytest.mark.parametrize("how", ["not a database", "truncated", "checksum", "write-ahead log"])
def test_a_damaged_database_gives_one_line_naming_the_file_and_the_fix(tmp_path, capsys, how):
    home = tmp_path / "home"
    home.mkdir()
    named = _damage(home / "narratives.duckdb", how)
    for command in (["prevalence"], ["migrate"]):  # a reader and a writer
        assert main(["--home", str(home), *command]) == 2
        line = one_line(capsys.readouterr().err)
        assert str(named) in line, line
        assert "narratives run" in line or "move" in line, line
    assert main(["--home", str(home), "--debug", "prevalence"]) == 2
    assert "Traceback" in capsys.readouterr().err  # --debug shows where it came from


POINTERS = {
    "not JSON": b"\x00\x01 half a pointer",
    "no folder": b'{"published_at": "2024-04-01T10:00:00+00:00", "run_id": 1}',
    "folder not a name": b'{"folder": 7, "published_at": "2024-04-01T10:00:00+00:00"}',
    "folder outside": b'{"folder": "../../../etc", "published_at": "2024-04-01T10:00:00+00:00"}',
    "bad date": b'{"folder": "20240401T100000000000Z", "published_at": "yesterday"}',
}


@pytest.mark.parametrize("how", POINTERS)
def test_a_damaged_snapshot_pointer_gives_one_line_naming_it_and_the_fix(
    tmp_path, capsys, monkeypatch, how
):
    home = tmp_path / "home"
    pointer = home / "snapshots" / snapshots.POINTER
    pointer.parent.mkdir(parents=True)
    _real_database(home / "narratives.duckdb")
    pointer.write_bytes(POINTERS[how])

    def no_exec(*args):
        raise AssertionError("the dashboard was started over a damaged pointer")

    monkeypatch.setattr(os, "execve", no_exec)
    assert main(["--home", str(home), "dashboard"]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(pointer) in line and "narratives run" in line, line


def _dashboard_errors(home: Path, monkeypatch) -> list[str]:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("NARRATIVES_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]  # no traceback on the page
    return [e.value for e in at.error]


def _only_this_path(line: str, path: Path, home: Path) -> None:
    """The line names `path` and no other server path."""
    assert str(path) in line, line
    assert str(home) not in line.replace(str(path), ""), line
    assert "Traceback" not in line and "site-packages" not in line


def test_the_dashboard_shows_one_line_for_a_damaged_pointer_or_snapshot(tmp_path, monkeypatch):
    home = tmp_path / "home"
    pointer = home / "snapshots" / snapshots.POINTER
    pointer.parent.mkdir(parents=True)
    pointer.write_bytes(POINTERS["not JSON"])
    (line,) = _dashboard_errors(home, monkeypatch)
    _only_this_path(line, pointer, home)
    assert "narratives run" in line

    folder = pointer.parent / "20240401T100000000000Z"
    folder.mkdir()
    (folder / snapshots.DB_NAME).write_bytes(b"not a database" * 100)
    pointer.write_text(json.dumps({"folder": folder.name, "run_id": 1,
                                   "published_at": "2024-04-01T10:00:00+00:00"}))  # fmt: skip
    (line,) = _dashboard_errors(home, monkeypatch)
    _only_this_path(line, folder / snapshots.DB_NAME, home)
    assert "narratives run" in line


# --- 9. a run left `running` by a process that is gone -------------------------------------------
START_A_RUN = """
import os, signal, sys, time
from narratives.core.runs import start_run
from narratives.core.store import writer
with writer(sys.argv[1]) as con:
    print(start_run(con, "pipeline"), flush=True)
if sys.argv[2] == "die":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(120)
"""


def _start_a_run(db: Path, then: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", START_A_RUN, str(db), then], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    run_id = int(proc.stdout.readline())
    return proc, run_id


def _status(db: Path, run_id: int) -> tuple:
    return rows(db, "SELECT status, error, finished_at IS NOT NULL FROM runs WHERE id = ?",
                [run_id])[0]  # fmt: skip


def test_a_run_left_running_by_a_dead_process_is_closed_as_failed_at_the_next_start(tmp_path):
    db = tmp_path / "runs.duckdb"
    dead, dead_run = _start_a_run(db, "die")
    assert dead.wait(timeout=60) == -signal.SIGKILL
    alive, alive_run = _start_a_run(db, "sleep")
    try:
        with run_record(partial(writer, db), "probe") as run:
            assert _status(db, dead_run) == (
                "failed", f"interrupted (process {dead.pid} is gone)", True)  # fmt: skip
            assert _status(db, alive_run) == ("running", None, False)  # its process still runs
            assert _status(db, run.id)[0] == "running"
    finally:
        alive.kill()
        alive.wait()
    assert run.row["status"] == "ok"
    with run_record(partial(writer, db), "probe"):
        assert _status(db, alive_run) == (
            "failed", f"interrupted (process {alive.pid} is gone)", True)  # fmt: skip


# --- 12. permanent errors fail fast, transient ones are retried ----------------------------------
def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    bad_set = tmp_path / "bad-set.yaml"
    bad_set.write_text("id: broken\nnarratives: [\n", encoding="utf-8")
    bad_sources = tmp_path / "sources.toml"
    bad_sources.write_text('[[sources]]\nid = "x"\nkind = "carrier-pigeon"\n', encoding="utf-8")
    home = str(tmp_path / "home")
    missing = str(tmp_path / "missing.jsonl")
    return {
        "missing corpus": (["--home", home, "run", "--corpus", missing], missing),
        "bad set": (
            ["--home", home, "run", "--corpus", str(CORPUS), "--narratives", str(bad_set)],
            "bad-set.yaml",
        ),  # fmt: skip
        "bad sources file (run)": (["--home", home, "run"], "sources.toml"),
        "bad sources file (ingest)": (
            ["--home", home, "ingest", str(bad_sources)],
            "sources.toml",
        ),  # fmt: skip
        "unknown model": (
            ["--home", home, "--model", "e6-huge", "run", "--corpus", str(CORPUS)],
            "e6-huge",
        ),  # fmt: skip
    }


@pytest.mark.parametrize(
    "case", ["missing corpus", "bad set", "bad sources file (run)", "bad sources file (ingest)",
             "unknown model"],
)  # fmt: skip
def test_a_permanent_error_fails_fast_before_prefect_starts(tmp_path, case):
    args, named = _bad_inputs(tmp_path)[case]
    env = child_env()
    if "(run)" in case:
        env["NARRATIVES_SOURCES"] = str(tmp_path / "sources.toml")
    started = time.monotonic()
    proc = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # with whatever it started
        proc.communicate()
        pytest.fail(f"{case}: still running after 60 s (Prefect started and retried it)")
    took = time.monotonic() - started
    assert proc.returncode == 2, err
    line = one_line(err)  # no Prefect server started: it logs as it starts
    assert named in line, line
    assert took < 10, f"{case} took {took:.1f} s"


def _step_counts() -> dict:
    keys = ("documents_new", "reprints", "passages_new", "documents_seen", "errors",
            "embeddings_new", "indexed_passages", "passages_matched", "confirmed_new")  # fmt: skip
    return dict.fromkeys(keys, 0) | {"documents_with_narrative": {}}


@pytest.mark.parametrize("step", ["ingest", "embed", "match", "aggregate"])
def test_flow_steps_retry_transient_errors_only(prefect_harness, mini_settings, monkeypatch, step):
    import flows.pipeline as fp

    calls = []
    errors: list[BaseException] = []

    def step_fn(settings, run_id, *rest, **options):  # match_step also takes labelled=
        calls.append(run_id)
        if errors:
            raise errors.pop(0)
        return _step_counts()

    monkeypatch.setattr(fp, f"{step}_step", step_fn)
    task = getattr(fp, f"{step}_task")
    monkeypatch.setattr(fp, f"{step}_task", task.with_options(retry_delay_seconds=0))
    flow = getattr(fp, f"{step}_flow")

    errors[:] = [DatabaseBusy("narratives.duckdb is open for writing in another process")]
    assert flow(mini_settings.to_dict(), run_id=7)["documents_new"] == 0
    assert len(calls) == 2  # a briefly held database: tried again

    calls.clear()
    errors[:] = [FileNotFoundError(2, "No such file or directory", "missing.jsonl")]
    with pytest.raises(FileNotFoundError):
        flow(mini_settings.to_dict(), run_id=7)
    assert len(calls) == 1  # a missing file: failed at once, not retried with back-off


def test_a_no_prefect_run_retries_transient_errors_only(tmp_path, monkeypatch, capsys):
    import narratives.pipeline

    calls = []
    errors: list[BaseException] = []

    def run_pipeline(settings, embedder=None):
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return {"id": len(calls), "status": "ok", "model_id": "m", "set_id": "mini",
                "set_version": "v", "counts": {}, "timings": {}}  # fmt: skip

    monkeypatch.setattr(narratives.pipeline, "run_pipeline", run_pipeline)
    monkeypatch.setattr("narratives.cli.pipeline_cmds.RETRY_DELAYS_S", (0, 0))
    args = ["-q", *run_args(tmp_path / "home", "--no-prefect")]
    errors[:] = [DatabaseBusy("narratives.duckdb is open for writing in another process")]
    assert main(args) == 0 and len(calls) == 2
    calls.clear()
    errors[:] = [FileNotFoundError(2, "No such file or directory", "gone.jsonl")]
    assert main(args) == 2 and len(calls) == 1
    assert "gone.jsonl" in one_line(capsys.readouterr().err)


def test_which_errors_are_transient():
    import httpx

    from narratives.core.runs import is_transient

    transient = [DatabaseBusy("held"), ConnectionResetError(104, "reset"), TimeoutError(),
                 httpx.ConnectError("refused"), httpx.ReadTimeout("slow")]  # fmt: skip
    permanent = [FileNotFoundError(2, "No such file", "x.jsonl"), ValueError("bad"),
                 KeyError("k"), PermissionError(13, "denied", "x"), RuntimeError("bug")]  # fmt: skip
    assert [is_transient(e) for e in transient] == [True] * len(transient)
    assert [is_transient(e) for e in permanent] == [False] * len(permanent)


HOLD_THE_DATABASE = """
import sys, time
from narratives.core.store import writer
with writer(sys.argv[1]) as con:
    print("holding", flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_an_error_inside_a_prefect_flow_is_one_error_line_without_traceback(tmp_path):
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_DATABASE,
                               str(home / "narratives.duckdb")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "holding"
        env = child_env() | {"NARRATIVES_LOCK_WAIT_S": "1"}
        started = time.monotonic()
        done = subprocess.run([*CLI, *run_args(home)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "is open for writing in another process" in errors[0]
    assert "Error logging to API" not in done.stderr  # Prefect's logs went out before it stopped
    assert took < 60, f"took {took:.0f} s"


# --- the CLI's error boundary --------------------------------------------------------------------
def test_an_expected_failure_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    home = str(tmp_path / "nothing-here")
    assert main(["--home", home, "prevalence"]) == 2
    assert "run `narratives run` first" in one_line(capsys.readouterr().err)
    for argv in (
        ["--home", home, "--debug", "prevalence"],
        ["--home", home, "prevalence", "--debug"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and "DatabaseMissing" in err
        assert err.strip().splitlines()[-1].startswith("error: no database at")


def test_an_unexpected_error_says_it_is_a_bug_and_where_the_traceback_is(
    tmp_path, capsys, monkeypatch
):
    def broken(args, settings):
        return settings.a_setting_nobody_declared

    monkeypatch.setattr("narratives.cli.pipeline_cmds.cmd_migrate", broken)
    home = tmp_path / "home"
    assert main(["--home", str(home), "migrate"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "bug" in line and "--debug" in line, line
    saved = Path(re.search(r"traceback is in (\S+?);", line).group(1))
    assert saved.is_relative_to(home) and "AttributeError" in saved.read_text()
    assert main(["--home", str(home), "--debug", "migrate"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "a_setting_nobody_declared" in err


def test_output_into_a_closed_pipe_exits_quietly(tmp_path):
    home = tmp_path / "home"
    _real_database(home / "narratives.duckdb")
    read_end, write_end = os.pipe()
    os.close(read_end)  # what `| head` does once it has its lines
    try:
        done = subprocess.run([*CLI, "--home", str(home), "sources"], cwd=ROOT, env=child_env(),
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == 141


# --- kill -9 at each step, then run again ---------------------------------------------------------
# The child's log line that says the step began (the step then writes: its WAL appears), and the
# run's timing key the step records last. The snapshot is published after the run is marked ok,
# within milliseconds: the child is killed the moment it says it is publishing.
STEPS = {
    "ingest": ("narratives.runs: run 1 started", "ingest_s"),
    "embed": ("passage texts to embed", "embed_step_s"),
    "match": ("embed: 12 new vectors", "match_s"),
    "aggregate": ("narratives.match: match:", "aggregate_s"),
    "publish": ("publishing snapshot", None),
}
ORDER = ["ingest_s", "embed_step_s", "match_s", "aggregate_s"]
TABLES = {
    "documents": "SELECT * EXCLUDE (id, run_id, ingested_at) FROM documents",
    "passages": "SELECT d.source_id, d.external_id, p.* EXCLUDE (id, document_id) "
    "FROM passages p JOIN documents d ON d.id = p.document_id",
    "embeddings": "SELECT * EXCLUDE (created_at) FROM embeddings",
    "matches": "SELECT d.source_id, d.external_id, p.seq, m.* EXCLUDE (passage_id, run_id) "
    "FROM matches m JOIN passages p ON p.id = m.passage_id JOIN documents d ON d.id = p.document_id",
    "passage_scope": "SELECT d.source_id, d.external_id, p.seq, s.* EXCLUDE (passage_id, run_id) "
    "FROM passage_scope s JOIN passages p ON p.id = s.passage_id "
    "JOIN documents d ON d.id = p.document_id",
    "prevalence_rollup": "SELECT * FROM prevalence_rollup",
}


def _plain(value):
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value


def tables(db: Path) -> dict[str, list[tuple]]:
    with reader(db) as con:
        return {name: sorted((tuple(_plain(v) for v in row) for row in
                              con.execute(f"{sql} ORDER BY ALL").fetchall()), key=repr)
                for name, sql in TABLES.items()}  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, list[tuple]]:
    home = tmp_path_factory.mktemp("uninterrupted")
    done = cli(*run_args(home, "--no-prefect"))
    assert done.returncode == 0, done.stderr
    got = tables(home / "narratives.duckdb")
    assert all(got.values()), {k: len(v) for k, v in got.items()}
    return got


def kill_during(home: Path, step: str, prefect: bool = False) -> tuple[subprocess.Popen, list]:
    """Start `narratives run` and SIGKILL it during `step`; the process and its stderr lines."""
    anchor, _ = STEPS[step]
    wal = home / "narratives.duckdb.wal"
    # niced, so this test process sees each event before the child is far past it
    proc = subprocess.Popen(
        ["nice", "-n", "19", *CLI, *run_args(home, *([] if prefect else ["--no-prefect"]))],
        cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    began = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if anchor in line and not began.is_set():
                if step == "publish":
                    proc.kill()
                began.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        if began.is_set() and (step == "publish" or wal.exists()):
            proc.kill()
            break
        time.sleep(0.0005)
    proc.kill()
    proc.wait(timeout=30)
    assert began.is_set(), f"no {anchor!r} on stderr:\n{''.join(lines)}"
    return proc, lines


@pytest.mark.slow
@pytest.mark.parametrize("step", list(STEPS))
def test_kill_9_during_a_step_then_a_rerun_equals_an_uninterrupted_run(
    tmp_path, uninterrupted, step
):
    home = tmp_path / "home"
    db = home / "narratives.duckdb"
    proc, lines = kill_during(home, step)
    # where it was killed: the step's timing is missing, the one before it is there
    ((status, timings),) = rows(db, "SELECT status, timings FROM runs")
    timings = json.loads(timings)
    done_steps = [k for k in ORDER if k in timings]
    key = STEPS[step][1]
    if key is None:  # publish: the run is marked ok, the snapshot not yet current
        assert status == "ok" and done_steps == ORDER, (status, timings)
        assert snapshots.current(home / "snapshots") is None
    else:
        assert status == "running" and done_steps == ORDER[: ORDER.index(key)], (
            status, timings, "".join(lines[-5:]))  # fmt: skip

    again = cli(*run_args(home, "--no-prefect"))
    assert again.returncode == 0, again.stderr
    runs = rows(db, "SELECT id, status, error FROM runs ORDER BY id")
    if key is None:
        assert runs == [(1, "ok", None), (2, "ok", None)]
    else:
        assert runs == [(1, "failed", f"interrupted (process {proc.pid} is gone)"),
                        (2, "ok", None)]  # fmt: skip
    got = tables(db)
    for name, want in uninterrupted.items():
        assert got[name] == want, (
            f"{name} after a kill during {step}: {len(got[name])} rows, want {len(want)}"
        )
    snap = snapshots.current(home / "snapshots")
    assert snap is not None and snap.run_id == 2
    assert not list((home / "snapshots").glob(".building-*"))  # a half-built copy is cleaned up
    assert tables(snap.database) == got


def _descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`: its command line."""
    parent_of = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] not in "ZX":
                parent_of[int(entry.name)] = int(fields[1])
    found = {}
    for child in parent_of:
        p = child
        while p in parent_of and p != pid:
            p = parent_of[p]
        if p == pid and child != pid:
            try:
                found[child] = (
                    (Path("/proc") / str(child) / "cmdline").read_text().replace("\0", " ")
                )
            except OSError:
                pass
    return found


def _alive(pid: int) -> bool:
    """Whether any thread of the process still runs: a killed process's main thread turns
    zombie before its other threads have exited, and its sockets close with the last one."""
    try:
        threads = list((Path("/proc") / str(pid) / "task").iterdir())
    except OSError:
        return False
    for thread in threads:
        try:
            stat = (thread / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] not in "ZX":
            return True
    return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_prefect_mode_run_leaves_no_process_behind(tmp_path):
    home = tmp_path / "home"
    anchor = STEPS["embed"][0]
    proc = subprocess.Popen([*CLI, *run_args(home)], cwd=ROOT, env=child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    lines, children = [], {}
    try:
        for line in proc.stderr:
            lines.append(line)
            if anchor in line:
                children = _descendants(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=30)
        assert children, "".join(lines)  # the temporary Prefect server ran below it
        ports = [
            int(m.group(1)) for c in children.values() for m in [re.search(r"--port (\d+)", c)] if m
        ]
        assert ports, children
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(map(_alive, children)):
            time.sleep(0.1)
        assert not [c for pid, c in children.items() if _alive(pid)], "orphans left running"
        assert not any(map(_listening, ports)), f"still listening on {ports}"
    finally:
        for pid in [proc.pid, *children]:  # whatever this test started, should the check fail
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    db = home / "narratives.duckdb"
    assert rows(db, "SELECT status FROM runs") == [("running",)]
    with run_record(partial(writer, db), "probe"):
        pass
    assert rows(db, "SELECT status, error FROM runs WHERE id = 1") == [
        ("failed", f"interrupted (process {proc.pid} is gone)")]  # fmt: skip
