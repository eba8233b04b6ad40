"""Discovery as a Prefect flow: cluster the stored passages, then look for alerts. Run it after
the pipeline (`narratives discover`), or on its own schedule (the `narratives-discover`
deployment: flows/deploy.py, prefect.yaml)."""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger, task

from flows import events
from flows.params import DISCOVER_DEFAULTS, DiscoverSettings
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
    settings: DiscoverSettings = DISCOVER_DEFAULTS, start: str | None = None,
    end: str | None = None, scopes: list[Literal["all", "residual"]] | None = None,
) -> dict:  # fmt: skip
    """Clustering (all passages of the window, and the residual) and alerts, one run record."""
    s = settings.to_settings()
    with recorded_run(s, "discover") as run:
        clusters = cluster_task(s.to_dict(), run.id, start, end, scopes or ["all", "residual"])
        for scope, summary in clusters.items():
            get_run_logger().info("discover %s: %s", scope, summary)
        alerts = alerts_task(s.to_dict(), run.id)
        get_run_logger().info("alerts: %(alerts_found)d found, %(alerts_new)d new", alerts)
    events.alerts_new(s.home, alerts)  # new alerts: an event automations can watch
    return run.row


def build_deployment(
    settings: Settings, cron: str | None = None, name: str = "narratives-discover"
):
    """The discover deployment for these settings (flows.deploy.discover_deployment)."""
    from flows.deploy import DISCOVER_CRON, discover_deployment

    return discover_deployment(settings, cron or DISCOVER_CRON, name=name)
