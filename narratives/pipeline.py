"""The order of the steps, and what a run records; the work is in each stage's `step`.

    ingest ──▶ embed ──▶ labels ──▶ match ──▶ aggregate    (`run_pipeline`, the `pipeline` flow)
    cluster ──▶ alerts                                       (`run_discover`, the `discover` flow)
    labels                                                   (`run_labels`: `narratives labels sync`)

The labels step comes before the match step so that the head learns from every label given so
far; the labels stage sits after matching in the house (its queue reads the matches), so the
pipeline hands the match step the function that reads them (`labelled`).

Each step opens the database for writing for its own duration only, records what it did in the
run's row and is idempotent. `recorded_run` is the one way a run is begun and finished: the CLI,
the Prefect flows in `flows/` and the functions below all use it. A good pipeline run ends by
publishing the snapshot dashboards read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from embeddings.base import Embedder
from narratives.analytics.step import alerts_step
from narratives.core import parallel
from narratives.core.runs import RunRecord, run_record
from narratives.core.settings import Settings
from narratives.core.store import writer
from narratives.discovery.step import cluster_step
from narratives.ingest.dedup import DEDUP
from narratives.ingest.step import ingest_step
from narratives.labels.queries import training_examples
from narratives.labels.step import labels_step
from narratives.matching import judges
from narratives.matching.bank import GENERIC_BACKGROUND
from narratives.matching.base import AGGREGATION, scorer_parameters
from narratives.matching.sets import load_set
from narratives.matching.step import match_step
from narratives.passages.langid import LANGID
from narratives.passages.split import SPLITTER
from narratives.prevalence.step import aggregate_step, correct_step, publish_snapshot
from narratives.vectors.index import IVF_THRESHOLD, SHARD_THRESHOLD
from narratives.vectors.step import embed_step, load_embedder

__all__ = ["load_embedder", "recorded_run", "run_discover", "run_labels", "run_pipeline"]

# the kinds of run after which dashboards get a new snapshot (what they show has changed)
PUBLISHING = ("pipeline", "labels", "discover")


def components(settings: Settings) -> dict:
    """The registered names of the parts a run uses."""
    return {
        "embedder": settings.model,
        "splitter": SPLITTER,
        "langid": LANGID,
        "scorer": settings.scorer,
        "background": GENERIC_BACKGROUND,
        "aggregation": AGGREGATION,
        "index": f"faiss-flat-ip, ivf-flat-ip past {IVF_THRESHOLD}, sharded ivf-pq with exact "
        f"re-rank past {SHARD_THRESHOLD}",
        "dedup": DEDUP,
        "partitions": parallel.describe(settings.workers, settings.dask_address),
    } | judges.components()


def parameters(settings: Settings) -> dict:
    """Every setting that changes a number of the run."""
    keys = ("max_passage_words", "top_k_matches", "suggest_margin", "batch_size", "partition_size")
    return (
        {k: getattr(settings, k) for k in keys}
        | scorer_parameters(settings.scorer, settings)
        | judges.parameters(settings)
        | {"sources": str(settings.sources) if settings.sources else None}
    )


@contextmanager
def recorded_run(settings: Settings, kind: str = "pipeline") -> Iterator[RunRecord]:
    """A run record around a block of steps: begun `running`, finished `ok` or `failed`.
    After a good run, the snapshot dashboards read is published, holding the finished run."""
    nset = load_set(settings.narrative_set)
    with run_record(
        partial(writer, settings.database, settings.lock_wait_s),
        kind,
        components=components(settings),
        parameters=parameters(settings),
        set_id=nset.id,
        set_version=nset.version,
        on_success=partial(publish_snapshot, settings) if kind in PUBLISHING else None,
    ) as run:
        yield run


def run_pipeline(settings: Settings, embedder: Embedder | None = None) -> dict:
    """All steps in order, without Prefect (the flows in `flows/` do the same with retries).
    With `workers` or `dask_address` set, the embed and match steps' partitions run on Dask."""
    with recorded_run(settings) as run:
        ingest_step(settings, run.id)
        with parallel.partitions_for(settings.workers, settings.dask_address) as parts:
            embed_step(settings, run.id, embedder, parts)
            labels_step(settings, run.id)
            match_step(settings, run.id, embedder, labelled=training_examples, partitions=parts)
        aggregate_step(settings, run.id)
    return run.row


def run_labels(settings: Settings) -> dict:
    """Store the label journal's new labels (`narratives labels sync`); the next pipeline run
    retrains the head with them, and the corrected prevalence uses the audit ones at once."""
    with recorded_run(settings, "labels") as run:
        labels_step(settings, run.id)
        correct_step(settings, run.id)
    return run.row


def run_discover(settings: Settings, **window) -> dict:
    """Clustering then alerts under one run record, without Prefect."""
    with recorded_run(settings, "discover") as run:
        cluster_step(settings, run.id, **window)
        alerts_step(settings, run.id)
    return run.row
