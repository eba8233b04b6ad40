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
