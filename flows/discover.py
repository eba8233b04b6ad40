"""Discovery as a Prefect flow: cluster the stored passages, then look for alerts. Run it after
the pipeline (`narratives discover`), or on its own schedule (`build_deployment`)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from flows.pipeline import transient
from narratives.analytics.step import alerts_step
from narratives.core.settings import Settings
from narratives.discovery.step import cluster_step
from narratives.pipeline import recorded_run


def _settings(settings: dict | None) -> Settings:
    return Settings.from_dict(settings or {})


@task(name="cluster-step", retries=1, retry_delay_seconds=10, retry_condition_fn=transient)
def cluster_task(
    settings: dict, run_id: int, start=None, end=None, scopes=("all", "residual")
) -> dict:
    return cluster_step(_settings(settings), run_id, start=start, end=end, scopes=tuple(scopes))


@task(name="alerts-step", retries=1, retry_delay_seconds=10, retry_condition_fn=transient)
def alerts_task(settings: dict, run_id: int) -> dict:
    return alerts_step(_settings(settings), run_id)


@flow(name="discover")
def discover_flow(
    settings: dict | None = None, start: str | None = None, end: str | None = None,
    scopes: list[str] | None = None,
) -> dict:  # fmt: skip
    """Clustering (all passages of the window, and the residual) and alerts, one run record."""
    with recorded_run(_settings(settings), "discover") as run:
        clusters = cluster_task(settings or {}, run.id, start, end, scopes or ["all", "residual"])
        for scope, summary in clusters.items():
            get_run_logger().info("discover %s: %s", scope, summary)
        alerts = alerts_task(settings or {}, run.id)
        get_run_logger().info("alerts: %(alerts_found)d found, %(alerts_new)d new", alerts)
    return run.row


def build_deployment(
    settings: Settings, cron: str = "30 * * * *", name: str = "narratives-discover"
):
    params = settings.replace(
        home=settings.home.resolve(),
        narrative_set=settings.narrative_set.resolve(),
        db_path=settings.db_path.resolve() if settings.db_path else None,
    ).to_dict()
    return discover_flow.to_deployment(
        name=name, cron=cron, parameters={"settings": params}, tags=["narrative-tracker"],
        description="Cluster stored passages and raise alerts on a schedule",
    )  # fmt: skip
