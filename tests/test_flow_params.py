"""The flows' typed parameters, paths that do not depend on the working directory, retries of
transient errors only, one run per home, and `narratives serve` refusing a temporary server.
Real Prefect flow runs under the test harness's server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prefect.utilities.callables import parameter_schema
from pydantic import ValidationError

import flows.pipeline as fp
from flows.discover import discover_flow
from flows.limits import home_limit_name, one_run_per_home
from flows.params import DiscoverSettings, PipelineSettings
from narratives.cli import main
from narratives.core.settings import Settings, SettingsError
from narratives.core.store import DatabaseBusy, reader

ROOT = Path(__file__).resolve().parents[1]


def test_the_flows_parameters_are_typed_fields_with_defaults_that_validate():
    schema = parameter_schema(fp.pipeline_flow).model_dump()
    fields = schema["definitions"]["PipelineSettings"]["properties"]
    assert list(fields) == ["home", "corpus", "sources", "narrative_set", "model", "scorer",
                            "db_path", "workers", "dask_address", "other"]  # fmt: skip
    assert fields["scorer"]["anyOf"][0]["enum"][0] == "exemplar-head"  # a choice, not free text
    assert all(f["title"] and f["description"] for f in fields.values())
    PipelineSettings.model_validate(schema["properties"]["settings"]["default"])
    discover = parameter_schema(discover_flow).model_dump()
    assert "corpus" not in discover["definitions"]["DiscoverSettings"]["properties"]
    DiscoverSettings.model_validate(discover["properties"]["settings"]["default"])


def test_parameters_refuse_relative_paths_and_bad_values_by_name(tmp_path):
    with pytest.raises(ValidationError, match="relative path; give an absolute one"):
        PipelineSettings(home="var")
    with pytest.raises(ValidationError, match="setting head_threshold"):
        PipelineSettings(other={"head_threshold": 1.5})
    with pytest.raises(ValidationError, match="no setting 'nope'"):
        PipelineSettings(other={"nope": 1})
    # nothing says where home is: the run fails at once, saying how to set it
    with pytest.raises(SettingsError, match="NARRATIVES_HOME of the worker to an absolute path"):
        PipelineSettings().to_settings(env={})
    s = PipelineSettings(scorer="knn-vote").to_settings(env={"NARRATIVES_HOME": str(tmp_path),
                                                              "NARRATIVES_KNN_K": "8"})  # fmt: skip
    assert (s.home, s.scorer, s.knn_k, s.progress) == (tmp_path, "knn-vote", 8, False)


def test_a_settings_dict_of_earlier_releases_is_folded_into_the_typed_fields(mini_settings):
    params = PipelineSettings.model_validate(mini_settings.to_dict())
    assert params.corpus == mini_settings.corpus and params.other["lock_wait_s"] == 5
    assert params.to_settings(env={}) == mini_settings
    shown = PipelineSettings.of(mini_settings.replace(head_c=3.0), everything=False)
    assert shown.other == {"head_c": 3.0, "lock_wait_s": 5.0}  # a deployment shows what differs


def test_the_defaults_and_the_users_paths_do_not_depend_on_the_working_directory(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # far from the checkout
    s = Settings()
    assert s.corpus.is_absolute() and s.corpus.exists() and s.narrative_set.exists()
    assert s.corpus.resolve() == (ROOT / "data" / "demo" / "corpus.jsonl").resolve()
    r = Settings(home="h", corpus="c/../x.jsonl", db_path="~/n.duckdb").resolved()
    assert (r.home, r.corpus) == (tmp_path / "h", tmp_path / "x.jsonl")
    assert r.db_path == Path.home() / "n.duckdb"
    assert main(["--home", "rel", "-q", "migrate"]) == 0  # the CLI resolves at its edge
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'rel' / 'narratives.duckdb'}:")


def test_a_permanent_error_fails_the_run_at_once_with_its_message(prefect_harness, mini_settings,
                                                                  monkeypatch):  # fmt: skip
    calls = []
    real = fp.ingest_step
    monkeypatch.setattr(fp, "ingest_step", lambda *a: calls.append(1) or real(*a))
    missing = mini_settings.replace(corpus=mini_settings.home / "gone.jsonl")
    started = time.monotonic()
    state = fp.pipeline_flow(PipelineSettings.of(missing), return_state=True)
    took = time.monotonic() - started
    assert state.is_failed() and "no corpus at" in state.message and "gone.jsonl" in state.message
    assert len(calls) == 1, "a missing file was tried again"
    assert took < 15, f"{took:.1f} s"  # no back-off (the first retry waited 5 s)
    with reader(missing.database) as con:
        status, error = con.execute("SELECT status, error FROM runs").fetchall()[0]
    assert status == "failed" and "no corpus at" in error


def test_a_transient_error_is_retried_and_the_run_goes_on(prefect_harness, mini_settings,
                                                          monkeypatch):  # fmt: skip
    calls = []
    real = fp.ingest_step

    def ingest_step(settings, run_id):
        calls.append(run_id)
        if len(calls) == 1:
            raise DatabaseBusy("narratives.duckdb is open for writing in another process")
        return real(settings, run_id)

    monkeypatch.setattr(fp, "ingest_step", ingest_step)
    monkeypatch.setattr(fp, "ingest_task", fp.ingest_task.with_options(retry_delay_seconds=0))
    counts = fp.ingest_flow(PipelineSettings.of(mini_settings))
    assert counts["documents_new"] == 12 and len(calls) == 2


def test_a_second_run_on_the_same_home_waits_for_the_first(prefect_harness, mini_settings):
    """Held by the home's global concurrency limit: the ingest starts only once it is free."""
    done: dict = {}
    params = PipelineSettings.of(mini_settings)

    def second() -> None:
        done["counts"] = fp.ingest_flow(params)
        done["at"] = time.monotonic()

    with one_run_per_home(mini_settings.home):  # the first run, on the same home
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        time.sleep(4)
        assert "counts" not in done and not mini_settings.database.exists()
        released = time.monotonic()
    thread.join(60)
    assert done["counts"]["documents_new"] == 12 and done["at"] > released
    assert home_limit_name(mini_settings.home) != home_limit_name(mini_settings.home / "x")


def test_bad_items_at_ingest_are_a_prefect_event_automations_can_watch(
    prefect_harness, mini_settings, tmp_path, monkeypatch
):
    import flows.events
    from tests.ingest_server import FixtureServer

    emitted = []
    monkeypatch.setattr(flows.events, "emit_event", lambda **kw: emitted.append(kw))
    sources = tmp_path / "dates.toml"
    with FixtureServer() as server:  # a real HTTP server on 127.0.0.1
        sources.write_text(
            f'[[sources]]\nid = "dates"\nkind = "feed"\nurl = "{server.base}/feeds/'
            'bad-dates.xml"\noutlet = "Dates Daily"\nfull_text = "never"\nallow_private = true\n',
            encoding="utf-8",
        )
        counts = fp.ingest_flow(PipelineSettings.of(mini_settings.replace(sources=sources)))
    assert counts["errors"] == 2
    assert [(e["event"], e["payload"]) for e in emitted] == [
        ("narratives.ingest.errors", {"errors": 2, "sources": {"dates": 2}})]  # fmt: skip
    assert emitted[0]["resource"]["prefect.resource.name"] == str(mini_settings.home)


def _serve(tmp_path, *args, env_changes: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | env_changes
    return subprocess.run(
        [sys.executable, "-m", "narratives", "--home", str(tmp_path / "var"), "serve", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_serve_refuses_a_temporary_server_in_one_line(tmp_path):
    done = _serve(tmp_path, env_changes={})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no traceback
    assert "prefect server start" in done.stderr and "PREFECT_API_URL" in done.stderr
    assert "--ephemeral" in done.stderr
    gone = _serve(tmp_path, env_changes={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert (
        gone.returncode == 2
        and "no Prefect server answers at http://127.0.0.1:9/api" in gone.stderr
    )
    bad = _serve(tmp_path, "--cron", "hourly", env_changes={})
    assert bad.returncode == 2 and "--cron 'hourly' is not a cron schedule" in bad.stderr


def runbook_automations() -> list[dict]:
    """The automations of docs/operations.md ("What to watch")."""
    import re

    import yaml

    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(automations:.*?)```", text, re.S)
    return yaml.safe_load(block)["automations"]


def test_the_runbooks_automations_are_valid_and_watch_the_flows_events():
    from prefect.events.schemas.automations import AutomationCore

    from flows.events import ALERTS_NEW, INGEST_ERRORS

    automations = [AutomationCore.model_validate(a) for a in runbook_automations()]
    expected = {e for a in automations for e in a.trigger.expect}
    assert {INGEST_ERRORS, ALERTS_NEW, "prefect.flow-run.Failed"} <= expected
