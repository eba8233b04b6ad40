"""Serving the pipeline as a Prefect deployment on a cron schedule.

`narratives serve` needs a Prefect server to register with: start one with
`prefect server start` and point PREFECT_API_URL at it (the README shows how).
"""

from __future__ import annotations

from narratives.core.settings import Settings


def build_deployment(settings: Settings, name: str = "narratives-pipeline"):
    from flows.pipeline import pipeline_flow

    # absolute paths: the served flow may run from another working directory
    params = settings.replace(
        home=settings.home.resolve(),
        corpus=settings.corpus.resolve(),
        narrative_set=settings.narrative_set.resolve(),
        db_path=settings.db_path.resolve() if settings.db_path else None,
    ).to_dict()
    return pipeline_flow.to_deployment(
        name=name,
        cron=settings.schedule_cron,
        parameters={"settings": params},
        tags=["narrative-tracker"],
        description="Ingest, embed, match and aggregate on a schedule",
    )


def serve(settings: Settings, name: str = "narratives-pipeline") -> None:
    from prefect import serve as prefect_serve

    prefect_serve(build_deployment(settings, name))
