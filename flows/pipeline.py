"""The pipeline as Prefect flows: `ingest`, `embed`, `labels`, `match`, `aggregate`, and `pipeline`
composing them, over the stages' step functions, in the order of `narratives.pipeline`.

Each flow takes its settings as one typed parameter (flows.params.PipelineSettings: a form in
the Prefect UI) and builds the run's `Settings` from it once; its tasks get them as a plain dict
(a task input must serialise). A pipeline run, or an ingest run on its own, holds its home's
concurrency slot (flows.limits): one at a time per home."""

from __future__ import annotations

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE

from flows import events
from flows.limits import one_run_per_home
from flows.params import PIPELINE_DEFAULTS, PipelineSettings
from flows.partitions import dask_partitions
from narratives.core.parallel import cluster_address
from narratives.core.runs import is_transient
from narratives.core.settings import Settings
from narratives.ingest.step import ingest_step
from narratives.labels.queries import training_examples
from narratives.labels.step import labels_step
from narratives.matching.step import match_step
from narratives.pipeline import recorded_run
from narratives.prevalence.step import aggregate_step
from narratives.vectors.step import embed_step


def _settings(settings: dict | None) -> Settings:
    return Settings.from_dict(settings or {})


def transient(task, task_run, state) -> bool:
    """Prefect's retry condition: try a task again only after a transient failure (a database
    briefly held by another process, the network: narratives.core.runs.is_transient). A
    permanent one (a missing file, bad input, a bug) fails the task at once with its message."""
    from narratives.ingest.step import SourceUnreachable

    try:
        state.result()
    except Exception as exc:
        return isinstance(exc, SourceUnreachable) or is_transient(exc)
    return False


# Ingest reads files and (for feeds and pages) the network: retry with backoff. The other
# steps are local; one retry covers a database briefly held by another process. Only transient
# failures are retried (`transient`): a missing file or bad input fails at once.
@task(name="ingest-step", retries=3, retry_delay_seconds=[5, 30, 120],
      retry_condition_fn=transient)  # fmt: skip
def ingest_task(settings: dict, run_id: int) -> dict:
    return ingest_step(_settings(settings), run_id)


@task(name="embed-step", retries=1, retry_delay_seconds=10, retry_condition_fn=transient)
def embed_task(settings: dict, run_id: int) -> dict:
    return embed_step(_settings(settings), run_id)


@task(name="labels-step", retries=1, retry_delay_seconds=10, retry_condition_fn=transient)
def labels_task(settings: dict, run_id: int) -> dict:
    return labels_step(_settings(settings), run_id)


@task(name="match-step", retries=1, retry_delay_seconds=10, retry_condition_fn=transient)
def match_task(settings: dict, run_id: int) -> dict:
    return match_step(_settings(settings), run_id, labelled=training_examples)


@task(name="aggregate-step", retries=1, retry_delay_seconds=10, retry_condition_fn=transient)
def aggregate_task(settings: dict, run_id: int) -> dict:
    return aggregate_step(_settings(settings), run_id)


# One task per source: sources are read concurrently, and a source that cannot be reached is
# retried with backoff (the last try records the error); then each read is stored, in order.
SOURCE_RETRIES = 3


@task(name="read-source", retries=SOURCE_RETRIES, retry_delay_seconds=[10, 60, 300],
      cache_policy=NO_CACHE, retry_condition_fn=transient)  # fmt: skip
def read_source_task(settings: dict, source):
    from prefect.runtime import task_run

    from narratives.ingest.step import read

    last_try = (task_run.run_count or 1) > SOURCE_RETRIES
    return read(_settings(settings), source, retrying=not last_try)


@task(name="store-source", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE,
      retry_condition_fn=transient)  # fmt: skip
def store_source_task(settings: dict, got, run_id: int) -> dict:
    from narratives.ingest.step import store

    return store(_settings(settings), got, run_id)


@flow(name="ingest")
def ingest_flow(settings: PipelineSettings = PIPELINE_DEFAULTS, run_id: int | None = None,
                only: str | None = None) -> dict:  # fmt: skip
    """The corpus file, or every source of the sources file (a task per source)."""
    s = settings.to_settings()
    if run_id is not None:  # a part of the pipeline's run
        counts = _ingest(s, s.to_dict(), run_id, only)
    else:
        with one_run_per_home(s.home, get_run_logger()), recorded_run(s, "ingest") as run:
            counts = _ingest(s, s.to_dict(), run.id, only)  # on its own: a run record of its own
    events.ingest_errors(s.home, counts)  # bad items skipped: an event automations can watch
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
    from narratives.ingest.sources_file import load_sources, select
    from narratives.ingest.state import ingest_lock
    from narratives.ingest.step import record_run

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


def _step(task, settings: PipelineSettings, run_id: int | None, kind: str, message: str) -> dict:
    """One step's task, in the caller's run, or (run on its own) in a run record of its own."""
    s = settings.to_settings()
    if run_id is not None:
        counts = task(s.to_dict(), run_id)
    else:
        with recorded_run(s, kind) as run:
            counts = task(s.to_dict(), run.id)
    get_run_logger().info(message, counts)
    return counts


def _partitioned(step, **kwargs):
    """A step whose partitions run as tasks on the Dask scheduler of its settings: the step
    itself runs in the flow run (it is the writer; its partitions are the tasks)."""

    def run(settings: dict, run_id: int) -> dict:
        s = _settings(settings)
        with dask_partitions(s.dask_address) as parts:
            return step(s, run_id, partitions=parts, **kwargs)

    return run


@flow(name="embed")
def embed_flow(settings: PipelineSettings = PIPELINE_DEFAULTS, run_id: int | None = None) -> dict:
    step = _partitioned(embed_step) if settings.to_settings().dask_address else embed_task
    return _step(step, settings, run_id, "embed",
                 "embed: %(embeddings_new)d new vectors; index holds %(indexed_passages)d")  # fmt: skip


@flow(name="labels")
def labels_flow(settings: PipelineSettings = PIPELINE_DEFAULTS, run_id: int | None = None) -> dict:
    return _step(labels_task, settings, run_id, "labels",
                 "labels: %(labels_new)d new analysts' labels stored, %(labels_total)d in all")  # fmt: skip


@flow(name="match")
def match_flow(settings: PipelineSettings = PIPELINE_DEFAULTS, run_id: int | None = None) -> dict:
    step = (
        _partitioned(match_step, labelled=training_examples)
        if settings.to_settings().dask_address
        else match_task
    )
    return _step(step, settings, run_id, "match",
                 "match: %(passages_matched)d passages scored, %(confirmed_new)d confirmed")  # fmt: skip


@flow(name="aggregate")
def aggregate_flow(
    settings: PipelineSettings = PIPELINE_DEFAULTS, run_id: int | None = None
) -> dict:
    return _step(aggregate_task, settings, run_id, "aggregate",
                 "aggregate: documents per narrative %(documents_with_narrative)s")  # fmt: skip


@flow(name="pipeline")
def pipeline_flow(settings: PipelineSettings = PIPELINE_DEFAULTS) -> dict:
    """Ingest, embed, labels, match and aggregate under one run record, one run per home at a
    time."""
    s = settings.to_settings()
    logger = get_run_logger()
    full = PipelineSettings.of(s)  # the steps see exactly these settings
    with one_run_per_home(s.home, logger), recorded_run(s, "pipeline") as run:
        source = s.sources if s.sources is not None else s.corpus
        logger.info("run %d: home %s, %s %s, model %s, set %s", run.id, s.home,
                    "sources" if s.sources is not None else "corpus", source, s.model,
                    s.narrative_set)  # fmt: skip
        ingest_flow(full, run.id)
        # embed and match on Dask: the given scheduler, or a LocalCluster for this run
        with cluster_address(s.workers, s.dask_address) as address:
            scaled = PipelineSettings.of(s.replace(dask_address=address)) if address else full
            embed_flow(scaled, run.id)
            labels_flow(full, run.id)
            match_flow(scaled, run.id)
        aggregate_flow(full, run.id)
    return run.row
