"""The pipeline as Prefect flows: `ingest`, `embed`, `match`, `aggregate`, and `pipeline`
composing them. Settings travel as a plain dict (a flow parameter must serialise); each flow
rebuilds them with `Settings.from_dict`."""

from __future__ import annotations

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE

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


# One task per source: sources are read concurrently, and a source that cannot be reached is
# retried with backoff (the last try records the error); then each read is stored, in order.
SOURCE_RETRIES = 3


@task(name="read-source", retries=SOURCE_RETRIES, retry_delay_seconds=[10, 60, 300],
      cache_policy=NO_CACHE, retry_condition_fn=lambda task, run, state: _unreachable(state))  # fmt: skip
def read_source_task(settings: dict, source):
    from prefect.runtime import task_run

    from narratives.ingest.runner import read

    last_try = (task_run.run_count or 1) > SOURCE_RETRIES
    return read(_settings(settings), source, retrying=not last_try)


@task(name="store-source", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def store_source_task(settings: dict, got, run_id: int) -> dict:
    from narratives.ingest.runner import store

    return store(_settings(settings), got, run_id)


def _unreachable(state) -> bool:
    from narratives.ingest.runner import SourceUnreachable

    try:
        state.result()
    except SourceUnreachable:
        return True
    except Exception:
        return False
    return False


@flow(name="ingest")
def ingest_flow(settings: dict | None = None, run_id: int | None = None,
                only: str | None = None) -> dict:  # fmt: skip
    """The corpus file, or every source of the sources file (a task per source)."""
    s = _settings(settings)
    if run_id is not None:  # a part of the pipeline's run
        return _ingest(s, settings or {}, run_id, only)
    run_id = steps.begin(s, "ingest")  # on its own: a run record of its own, finished here
    try:
        counts = _ingest(s, settings or {}, run_id, only)
    except BaseException as exc:
        steps.finish(s, run_id, exc)
        raise
    steps.finish(s, run_id)
    return counts


def _ingest(s: Settings, settings: dict, run_id: int, only: str | None) -> dict:
    logger = get_run_logger()
    if s.sources is None:
        counts = ingest_task(settings, run_id)
        logger.info(
            "ingest: %(documents_new)d new documents (%(reprints)d of them reprints), "
            "%(passages_new)d new passages, %(documents_seen)d already stored, %(errors)d bad items",
            counts,
        )  # fmt: skip
        return counts
    from narratives.ingest.runner import record_run
    from narratives.ingest.sources import load_sources, select
    from narratives.ingest.state import ingest_lock

    sources = select(load_sources(s.sources), only)
    with ingest_lock(s.home):
        reads = read_source_task.map(unmapped(settings), sources)
        # stored in the file's order, whichever read finished first: the earlier copy stays
        # the original
        summaries = {
            src.id: store_source_task(settings, got.result(), run_id)
            for src, got in zip(sources, reads, strict=True)
        }
    for sid, summary in summaries.items():
        logger.info(
            "source %s: %s; %d new, %d duplicate, %d reprint, %d error(s)", sid,
            summary["status"], summary["new"], summary["duplicate"], summary["reprint"],
            summary["error"],
        )  # fmt: skip
    return record_run(s, run_id, summaries)


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
