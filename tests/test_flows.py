"""Real Prefect flow runs (under prefect_test_harness) over the real library."""

from prefect.client.schemas.schedules import CronSchedule

from flows.deploy import build_deployment
from flows.pipeline import pipeline_flow
from narratives.core.store import reader


def test_pipeline_flow_runs_all_steps_under_one_run_record(prefect_harness, mini_settings):
    run = pipeline_flow(mini_settings.to_dict())
    assert run["status"] == "ok"
    assert run["counts"]["documents_new"] == 12 and run["counts"]["embeddings_new"] >= 12
    again = pipeline_flow(mini_settings.to_dict())
    assert again["counts"]["embeddings_new"] == 0 and again["counts"]["documents_new"] == 0
    with reader(mini_settings.database) as con:
        kinds = con.execute("SELECT kind, status FROM runs ORDER BY id").fetchall()
    assert kinds == [("pipeline", "ok"), ("pipeline", "ok")]


def test_deployment_carries_the_cron_schedule_and_settings(mini_settings):
    dep = build_deployment(mini_settings.replace(schedule_cron="15 */6 * * *"), name="test")
    assert dep.name == "test"
    schedule = dep.schedules[0].schedule
    assert isinstance(schedule, CronSchedule) and schedule.cron == "15 */6 * * *"
    assert dep.parameters["settings"]["corpus"].endswith("mini-corpus.jsonl")
    assert dep.parameters["settings"]["home"] == str(mini_settings.home)  # absolute
    assert dep.entrypoint == "flows.pipeline.pipeline_flow"  # no path relative to a folder
    assert dep.concurrency_limit == 1
    assert dep.concurrency_options.collision_strategy == "ENQUEUE"  # an overlapping run waits


def test_serve_builds_every_deployment_with_relative_paths_made_absolute(tmp_path, monkeypatch):
    from flows.deploy import deployments
    from narratives.core.settings import Settings

    monkeypatch.chdir(tmp_path)
    built = deployments(Settings(home="h", corpus="c.jsonl"), overlap="skip")
    assert [d.name for d in built] == ["narratives-pipeline", "narratives-discover"]
    assert built[0].parameters["settings"]["home"] == str(tmp_path / "h")
    assert built[0].parameters["settings"]["corpus"] == str(tmp_path / "c.jsonl")
    assert built[1].entrypoint == "flows.discover.discover_flow"
    assert built[1].schedules[0].schedule.cron == "30 2 * * *"
    assert {d.concurrency_options.collision_strategy for d in built} == {"CANCEL_NEW"}
