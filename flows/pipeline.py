"""The pipeline as Prefect flows: `ingest`, `embed`, `match`, `aggregate`, and `pipeline`
composing them. Settings travel as a plain dict (a flow parameter must serialise); each flow
rebuilds them with `Settings.from_dict`."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from narratives import pipeline as steps
from narratives.settings import Settings


def _settings(settings: dict | None) -> Settings:
    return Settings.from_dict(settings or {})


# Ingest reads files and (for feeds and pages) the network: retry with backoff. The other
# steps are local; one retry covers a database briefly held by another process.
@task(name="ingest-step", retries=3, retry_delay_seconds=[5, 30, 120])
def ingest_task(settings: dict, run_id: int) -> dict:
    return steps.ingest_step(_settings(settings), run_id)


@task(name="embed-step", retries=1, retry_delay_seconds=10)
def embed_task(settings: dict, run_id: int) -> dict:
    return steps.embed_step(_settings(settings), run_id)


@task(name="match-step", retries=1, retry_delay_seconds=10)
def match_task(settings: dict, run_id: int) -> dict:
    return steps.match_step(_settings(settings), run_id)


@task(name="aggregate-step", retries=1, retry_delay_seconds=10)
def aggregate_task(settings: dict, run_id: int) -> dict:
    return steps.aggregate_step(_settings(settings), run_id)


@flow(name="ingest")
def ingest_flow(settings: dict | None = None, run_id: int | None = None) -> dict:
    run_id = run_id or steps.begin(_settings(settings), "ingest")
    counts = ingest_task(settings or {}, run_id)
    get_run_logger().info(
        "ingest: %(documents_new)d new documents, %(passages_new)d new passages, "
        "%(documents_seen)d already stored, %(errors)d bad items", counts,
    )  # fmt: skip
    return counts


@flow(name="embed")
def embed_flow(settings: dict | None = None, run_id: int | None = None) -> dict:
    run_id = run_id or steps.begin(_settings(settings), "embed")
    counts = embed_task(settings or {}, run_id)
    get_run_logger().info(
        "embed: %(embeddings_new)d new vectors; index holds %(indexed_passages)d", counts
    )
    return counts


@flow(name="match")
def match_flow(settings: dict | None = None, run_id: int | None = None) -> dict:
    run_id = run_id or steps.begin(_settings(settings), "match")
    counts = match_task(settings or {}, run_id)
    get_run_logger().info(
        "match: %(passages_matched)d passages scored, %(confirmed_new)d confirmed", counts
    )
    return counts


@flow(name="aggregate")
def aggregate_flow(settings: dict | None = None, run_id: int | None = None) -> dict:
    run_id = run_id or steps.begin(_settings(settings), "aggregate")
    counts = aggregate_task(settings or {}, run_id)
    get_run_logger().info(
        "aggregate: documents per narrative %s", counts["documents_with_narrative"]
    )
    return counts


@flow(name="pipeline")
def pipeline_flow(settings: dict | None = None) -> dict:
    """Ingest, embed, match and aggregate under one run record."""
    s = _settings(settings)
    run_id = steps.begin(s, "pipeline")
    get_run_logger().info(
        "run %d: corpus %s, model %s, set %s", run_id, s.corpus, s.model, s.narrative_set
    )
    try:
        ingest_flow(settings, run_id)
        embed_flow(settings, run_id)
        match_flow(settings, run_id)
        aggregate_flow(settings, run_id)
    except BaseException as exc:
        steps.finish(s, run_id, exc)
        raise
    return steps.finish(s, run_id)
