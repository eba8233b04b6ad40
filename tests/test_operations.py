"""Scheduled operation as an operator runs it (docs/operations.md): a real `prefect server start`
on 127.0.0.1, the checkout's prefect.yaml deployed with `prefect deploy --all` to a process work
pool, a real `prefect worker start`, and `narratives serve`; each from a folder outside the
checkout. The Prefect UI's run form is checked (and photographed) in headless Chromium."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from narratives.core.store import reader
from tests.browser import Browser, free_port

ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Server:
    api: str
    env: dict
    log: Path

    def post(self, path: str, body: dict | None = None):
        return self._call("POST", path, body or {})

    def get(self, path: str):
        return self._call("GET", path)

    def _call(self, method: str, path: str, body: dict | None = None):
        """One API call; a 502/503 (the server's SQLite busy on loaded cores) is tried again
        after a pause, as Prefect's own client does (PREFECT_CLIENT_MAX_RETRIES)."""
        for attempt in range(6):
            r = httpx.request(method, self.api + path, json=body, timeout=30)
            if r.status_code not in (502, 503) or attempt == 5:
                break
            time.sleep(1 + attempt)
        r.raise_for_status()
        return r.json()

    def deployment(self, name: str) -> dict | None:
        found = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        return found[0] if found else None

    def runs(self, deployment_id: str, state: str | None = None) -> list[dict]:
        body = {"deployments": {"id": {"any_": [deployment_id]}},
                "sort": "EXPECTED_START_TIME_ASC"}  # fmt: skip
        if state:
            body["flow_runs"] = {"state": {"type": {"any_": [state]}}}
        return self.post("/flow_runs/filter", body)

    def history(self, run_id: str) -> list[str]:
        return [s["name"] for s in self.get(f"/flow_run_states/?flow_run_id={run_id}")]


def wait_for(what: str, fn, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


def stop(proc: subprocess.Popen, wait_s: float = 20) -> int | None:
    """SIGTERM to the process group; its exit status, or None when it had to be killed. Whatever
    is left of the group is killed."""
    status = None
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        status = proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        status = proc.poll()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return status


def tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("prefect-server")
    api = f"http://127.0.0.1:{free_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATIVES_")}
    env |= {"PREFECT_HOME": str(base / "prefect"), "PREFECT_API_URL": api,
            "PREFECT_UI_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # a held run asks again every 2 s (30 s by default), to keep the test short
            "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2"}  # fmt: skip
    (base / "prefect").mkdir()
    log = base / "server.log"
    port = api.rsplit(":", 1)[1].split("/")[0]
    with log.open("w") as out:
        proc = subprocess.Popen([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", port],
                                cwd=base, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server start exited:\n{tail(log)}")
            try:
                return httpx.get(api + "/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("the Prefect server", healthy, timeout=180)
        yield Server(api, env, log)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def deployed(server, tmp_path_factory, data_dir):
    """The checkout's prefect.yaml deployed from a folder outside the checkout; the pipeline's
    schedule moved to start 25 s from now, its corpus and set the tiny test ones."""
    ops = tmp_path_factory.mktemp("ops")
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    pipeline = next(d for d in spec["deployments"] if d["name"] == "narratives-pipeline")
    first = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=25)).replace(microsecond=0)
    pipeline["schedules"] = [
        {"interval": 3600, "anchor_date": first.isoformat(), "timezone": "UTC"}
    ]
    pipeline["parameters"]["settings"] = {"corpus": str(data_dir / "mini-corpus.jsonl"),
                                          "narrative_set": str(data_dir / "mini-set.yaml")}  # fmt: skip
    (ops / "prefect.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for args in (["work-pool", "create", "narratives", "--type", "process"],
                 ["--no-prompt", "deploy", "--all"]):  # fmt: skip
        done = subprocess.run([*PREFECT, *args], cwd=ops, env=server.env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return ops, first


@pytest.mark.slow
def test_a_worker_runs_the_pipeline_on_schedule_and_holds_an_overlapping_run(
    server, deployed, tmp_path
):
    ops, first = deployed
    home = tmp_path / "home"
    dep = server.deployment("narratives-pipeline")
    assert dep["entrypoint"] == "flows.pipeline.pipeline_flow" and dep["pull_steps"] == []
    assert dep["work_pool_name"] == "narratives" and dep["global_concurrency_limit"]["limit"] == 1
    assert dep["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert server.deployment("narratives-discover")["entrypoint"] == "flows.discover.discover_flow"

    # the scheduler's run, and someone's run for the same moment: they overlap
    scheduled = wait_for("the scheduled run", lambda: server.runs(dep["id"], "SCHEDULED"), 60)[0]
    assert scheduled["auto_scheduled"]
    assert dt.datetime.fromisoformat(scheduled["expected_start_time"]) == first
    extra = server.post(f"/deployments/{dep['id']}/create_flow_run", {"state": {
        "type": "SCHEDULED", "state_details": {"scheduled_time": scheduled["expected_start_time"]}}})  # fmt: skip

    log = tmp_path / "worker.log"
    env = server.env | {"NARRATIVES_HOME": str(home), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    with log.open("w") as out:
        worker = subprocess.Popen([*PREFECT, "worker", "start", "--pool", "narratives"], cwd=ops,
                                  env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    try:
        ids = [scheduled["id"], extra["id"]]

        def finished() -> list[dict] | None:
            runs = [server.get(f"/flow_runs/{i}") for i in ids]
            return runs if all(r["state_type"] in TERMINAL for r in runs) else None

        runs = wait_for(f"both runs ({tail(log)})", finished, timeout=240, every=1)
    finally:
        stopped = stop(worker)
    assert [r["state_type"] for r in runs] == ["COMPLETED", "COMPLETED"], tail(log)
    held = [r for r in runs if "AwaitingConcurrencySlot" in server.history(r["id"])]
    assert len(held) == 1, [server.history(r["id"]) for r in runs]
    one, two = sorted(runs, key=lambda r: r["start_time"])
    assert two is held[0] and two["start_time"] >= one["end_time"]  # it waited for the first
    assert stopped is not None, "the worker did not stop on SIGTERM"
    with reader(home / "narratives.duckdb") as con:
        rows = con.execute(
            "SELECT kind, status, counts->>'documents_new', started_at, finished_at FROM runs "
            "ORDER BY id"
        ).fetchall()
    assert [r[:3] for r in rows] == [("pipeline", "ok", "12"), ("pipeline", "ok", "0")]
    assert rows[1][3] >= rows[0][4]  # the runs table agrees: one after the other


@pytest.mark.slow
def test_the_prefect_ui_shows_the_deployment_parameters_as_fields(server, deployed, tmp_path):
    import base64

    dep = server.deployment("narratives-pipeline")
    browser = Browser()
    try:
        browser.load(server.api.removesuffix("/api") + f"/deployments/deployment/{dep['id']}/run",
                     "document.body.innerText.includes('Other settings')", timeout=90)  # fmt: skip
        time.sleep(1)
        text = browser.eval("document.body.innerText")
        values = browser.eval("[...document.querySelectorAll('input, textarea')].map(e => e.value)")
        browser.send("Emulation.setDeviceMetricsOverride", width=1400, height=2200,
                     deviceScaleFactor=1, mobile=False)  # fmt: skip
        time.sleep(0.8)
        shot = tmp_path / "prefect-ui-run-form.png"  # a test artefact, under pytest's tmp dir
        shot.write_bytes(base64.b64decode(browser.send("Page.captureScreenshot")["data"]))
    finally:
        browser.close()
    for label in ("Home folder", "Corpus file", "Sources file", "Narrative set",
                  "Embedding model", "Scorer", "Database file", "Other settings"):  # fmt: skip
        assert label in text, (label, text[:2000])
    assert str(ROOT / "tests" / "data" / "mini-corpus.jsonl") in values  # the deployment's value
    assert shot.stat().st_size > 20_000


@pytest.mark.slow
def test_serve_runs_every_deployment_from_another_folder_and_stops_on_sigterm(
    server, tmp_path, data_dir
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = tmp_path / "serve.log"
    args = ["--home", "state", "serve", "--prefix", "served",  # a relative home: stored absolute
            "--corpus", str(data_dir / "mini-corpus.jsonl"),
            "--narratives", str(data_dir / "mini-set.yaml")]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "narratives", *args], cwd=elsewhere,
                                env=server.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deps = wait_for(f"served deployments ({tail(log)})",
                        lambda: [server.deployment(f"served-{n}") for n in ("pipeline", "discover")]
                        if server.deployment("served-discover") else None, 90)  # fmt: skip
        pipeline, discover = deps
        assert pipeline["entrypoint"] == "flows.pipeline.pipeline_flow"
        assert pipeline["parameters"]["settings"]["home"] == str(elsewhere / "state")
        assert pipeline["schedules"][0]["schedule"]["cron"] == "0 * * * *"
        assert discover["schedules"][0]["schedule"]["cron"] == "30 2 * * *"
        assert pipeline["global_concurrency_limit"]["limit"] == 1
        run = server.post(f"/deployments/{pipeline['id']}/create_flow_run", {})
        done = wait_for(f"the served run ({tail(log)})",
                        lambda: (r := server.get(f"/flow_runs/{run['id']}"))["state_type"]
                        in TERMINAL and r, 180, every=1)  # fmt: skip
        assert done["state_type"] == "COMPLETED", tail(log)
    finally:
        status = stop(proc, wait_s=30)
    assert status == 0, f"serve ended with {status} on SIGTERM:\n{tail(log)}"
    assert "Traceback" not in log.read_text()
    with reader(elsewhere / "state" / "narratives.duckdb") as con:
        assert con.execute("SELECT kind, status FROM runs").fetchall() == [("pipeline", "ok")]


@pytest.mark.slow
def test_the_server_accepts_the_runbooks_automations(server):
    from prefect.events.schemas.automations import AutomationCore

    from tests.test_flow_params import runbook_automations

    for automation in runbook_automations():
        body = AutomationCore.model_validate(automation).model_dump(mode="json")
        created = server.post("/automations/", body)
        assert created["name"] == automation["name"] and created["enabled"]
