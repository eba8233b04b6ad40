"""The deployments: the pipeline (hourly) and discovery with its alerts (daily).

Two ways to run them on their schedules (docs/operations.md):

- `narratives serve`: one process registers every deployment with the Prefect server and runs
  their flow runs itself (`serve`, below);
- `prefect deploy --all` (prefect.yaml, the same deployments) to a process work pool, and
  `prefect worker start --pool narratives` runs them.

Either way a deployment stores its entrypoint as a module path (`flows.pipeline.pipeline_flow`)
and its parameters with absolute paths, so a run does not depend on any working directory.
Overlapping runs of a deployment wait (`wait`): its concurrency limit of 1 holds a second run
in `AwaitingConcurrencySlot` until the first ends; `skip` cancels it instead.
"""

from __future__ import annotations

from typing import Literal

from narratives.core.settings import Settings

PIPELINE = "narratives-pipeline"
DISCOVER = "narratives-discover"
DISCOVER_CRON = "30 2 * * *"  # daily, at night: clustering is the slowest step
TAGS = ["narrative-tracker"]
Overlap = Literal["wait", "skip"]


def concurrency(overlap: Overlap = "wait"):
    """One run of a deployment at a time; an overlapping one waits (ENQUEUE) or is cancelled."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    strategy = {
        "wait": ConcurrencyLimitStrategy.ENQUEUE,
        "skip": ConcurrencyLimitStrategy.CANCEL_NEW,
    }
    return ConcurrencyLimitConfig(limit=1, collision_strategy=strategy[overlap])


def _deployment(flow, params, *, name: str, cron: str, overlap: Overlap, description: str):
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    return flow.to_deployment(
        name=name, schedule=Cron(cron, timezone="UTC"),
        parameters={"settings": params.model_dump(mode="json", exclude_none=True)},
        tags=TAGS, description=description, concurrency_limit=concurrency(overlap),
        entrypoint_type=EntrypointType.MODULE_PATH,  # not a path relative to a folder
    )  # fmt: skip


def pipeline_deployment(settings: Settings, name: str = PIPELINE, overlap: Overlap = "wait"):
    from flows.params import PipelineSettings
    from flows.pipeline import pipeline_flow

    params = PipelineSettings.of(settings.resolved(), everything=False)
    return _deployment(pipeline_flow, params, name=name, cron=settings.schedule_cron,
                       overlap=overlap, description="Ingest, embed, match and aggregate: what is "
                       "new since the last run")  # fmt: skip


def discover_deployment(settings: Settings, cron: str = DISCOVER_CRON, name: str = DISCOVER,
                        overlap: Overlap = "wait"):  # fmt: skip
    from flows.discover import discover_flow
    from flows.params import DiscoverSettings

    params = DiscoverSettings.of(settings.resolved(), everything=False)
    return _deployment(discover_flow, params, name=name, cron=cron, overlap=overlap,
                       description="Cluster the stored passages (emerging narratives) and raise "
                       "alerts")  # fmt: skip


def build_deployment(settings: Settings, name: str = PIPELINE):
    """The pipeline's deployment (kept for callers of earlier releases)."""
    return pipeline_deployment(settings, name)


def deployments(settings: Settings, discover_cron: str = DISCOVER_CRON, overlap: Overlap = "wait",
                prefix: str = "narratives") -> list:  # fmt: skip
    """Every deployment `narratives serve` runs."""
    return [
        pipeline_deployment(settings, f"{prefix}-pipeline", overlap),
        discover_deployment(settings, discover_cron, f"{prefix}-discover", overlap),
    ]


def serve(settings: Settings, discover_cron: str = DISCOVER_CRON, overlap: Overlap = "wait",
          prefix: str = "narratives") -> None:  # fmt: skip
    """Register every deployment and run their flow runs in this process until stopped
    (Ctrl-C or SIGTERM: runs in progress are cancelled)."""
    from prefect import serve as prefect_serve

    prefect_serve(*deployments(settings, discover_cron, overlap, prefix))
