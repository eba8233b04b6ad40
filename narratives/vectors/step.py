"""The embed step: every stored passage text without a vector for the model is embedded (in
length-sorted batches by the embedder), cached in `embeddings` keyed by (model id, text hash),
and the model's FAISS index is brought in step with DuckDB.

The texts are cut into partitions of `Settings.partition_size`; each is embedded by
`embed_partition`, a function of an Arrow table that never opens the database, in this process
or on Dask workers (narratives.core.parallel). This step, the one writer, stores each
partition's vectors as it comes back, in order: a crash loses at most the partitions in flight.
In-process and on workers the partitions are the same, so are the batches, and so the vectors."""

from __future__ import annotations

import logging
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from embeddings.base import Embedder, get_embedder, progress_bar
from narratives.core import runs
from narratives.core.parallel import InProcess, Partitions
from narratives.core.settings import Settings
from narratives.core.store import writer
from narratives.vectors import store
from narratives.vectors.index import sync_index

log = logging.getLogger("narratives.embed")


@lru_cache(maxsize=4)
def load_embedder(
    spec: str, models_dir: Path | None = None, threads: int | None = None
) -> Embedder:
    """One embedder per model per process (a Dask worker included): loading a model is the slow
    part of a small run. `threads`: the model's own threads (None: the backend's default)."""
    return get_embedder(spec, models_dir=models_dir, threads=threads)


def worker_embedder(spec: str, models_dir: str | None = None) -> Embedder:
    """A Dask worker's embedder, loaded once per process, with the threads Dask gives a task
    (OMP_NUM_THREADS: 1 unless the cluster says otherwise; unset: the backend's default)."""
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or None
    return load_embedder(spec, Path(models_dir) if models_dir else None, threads)


def embed_partition(part: pa.Table, *, embedder: Embedder | str, models_dir: str | None = None,
                    batch_size: int = 32) -> tuple[list[str], np.ndarray, str, dict]:  # fmt: skip
    """(text hashes, vectors, model id, load timings) for a partition of (text_hash, text).
    `embedder`: the model itself (in-process), or its name (a worker loads its own:
    `worker_embedder`)."""
    timings: dict = {}
    if isinstance(embedder, str):
        embedder = worker_embedder(embedder, models_dir)
        timings = embedder.load()  # {} once loaded: a worker loads its model once
    vectors = embedder.embed(part.column("text").to_pylist(), "passage", batch_size=batch_size)
    return part.column("text_hash").to_pylist(), vectors, embedder.model_id, timings


def embed_step(settings: Settings, run_id: int, embedder: Embedder | None = None,
               partitions: Partitions | None = None) -> dict:  # fmt: skip
    started = time.perf_counter()
    # timed apart from inference: a backend that loads in its constructor loads here (once per
    # process: load_embedder caches it), a lazy one in `embedder.load()` below
    embedder = embedder or load_embedder(settings.model, settings.models_dir)
    load_timings = {"model_load_s": time.perf_counter() - started}
    partitions = partitions or InProcess()
    here = isinstance(partitions, InProcess)  # else Dask workers embed, each with its own model
    with writer(settings.database, settings.lock_wait_s) as con:
        todo = store.texts_to_embed(con, embedder.model_id)
        log.info("embed: %d passage texts to embed with %s", len(todo), embedder.model_id)
        if todo and here:
            for name, seconds in embedder.load().items():
                load_timings[name] = load_timings.get(name, 0.0) + seconds
        embed_started = time.perf_counter()
        bar = progress_bar(len(todo), f"embedding with {embedder.model_id}", settings.progress)
        model = embedder if here else settings.model  # a worker loads its own by name
        models_dir = str(settings.models_dir) if settings.models_dir else None
        size, store_s = settings.partition_size, 0.0
        parts = (
            pa.table({"text_hash": [h for h, _ in todo[i : i + size]],
                      "text": [t for _, t in todo[i : i + size]]})
            for i in range(0, len(todo), size)
        )  # fmt: skip
        for hashes, vectors, model_id, loaded in partitions.map(
            embed_partition, parts, embedder=model, models_dir=models_dir,
            batch_size=settings.batch_size,
        ):  # fmt: skip
            if model_id != embedder.model_id:
                raise RuntimeError(
                    f"a worker embedded with {model_id}, this run with {embedder.model_id}: "
                    "install the same narrative-tracker and model on every Dask worker"
                )
            for name, seconds in loaded.items():  # workers' one-time loads, summed
                load_timings[f"workers_{name}"] = load_timings.get(f"workers_{name}", 0) + seconds
            stored = time.perf_counter()
            store.put(con, embedder.model_id, hashes, vectors)
            store_s += time.perf_counter() - stored  # the writer's own share (docs/scale.md)
            bar.update(len(hashes))
        bar.close()
        embed_s = time.perf_counter() - embed_started
        indexed = sync_index(con, settings.index_dir, embedder.model_id, embedder.dim)
        counts = {"embeddings_new": len(todo), "indexed_passages": indexed}
        # embed_s is inference (and caching) only; the model's build and load are their own
        timings = load_timings | {"embed_s": embed_s, "embed_store_s": store_s,
                                  "embed_step_s": time.perf_counter() - started}  # fmt: skip
        if todo:
            timings["passages_per_s"] = len(todo) / max(embed_s, 1e-9)
        runs.update_run(con, run_id, counts=counts, timings=timings, model_id=embedder.model_id)
    # the same words as the embed flow's summary: the CLI's console prints a repeat once
    log.info("embed: %d new vectors; index holds %d", len(todo), indexed)
    return counts | {"passages_per_s": timings.get("passages_per_s")}
