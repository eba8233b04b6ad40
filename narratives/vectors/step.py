"""The embed step: every stored passage text without a vector for the model is embedded (in
length-sorted batches by the embedder), cached in `embeddings` keyed by (model id, text hash),
and the model's FAISS index is brought in step with DuckDB."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path

from embeddings.base import Embedder, get_embedder, progress_bar
from narratives.core import runs
from narratives.core.settings import Settings
from narratives.core.store import writer
from narratives.vectors import store
from narratives.vectors.index import sync_index

log = logging.getLogger("narratives.embed")

EMBED_CHUNK = 512  # texts embedded and committed together: a crash loses at most this many


@lru_cache(maxsize=4)
def load_embedder(spec: str, models_dir: Path | None = None) -> Embedder:
    """One embedder per model per process: loading a model is the slow part of a small run."""
    return get_embedder(spec, models_dir=models_dir)


def embed_step(settings: Settings, run_id: int, embedder: Embedder | None = None) -> dict:
    started = time.perf_counter()
    # timed apart from inference: a backend that loads in its constructor loads here (once per
    # process: load_embedder caches it), a lazy one in `embedder.load()` below
    embedder = embedder or load_embedder(settings.model, settings.models_dir)
    load_timings = {"model_load_s": time.perf_counter() - started}
    with writer(settings.database, settings.lock_wait_s) as con:
        todo = store.texts_to_embed(con, embedder.model_id)
        log.info("embed: %d passage texts to embed with %s", len(todo), embedder.model_id)
        if todo:  # a run with nothing new never loads the model
            for name, seconds in embedder.load().items():
                load_timings[name] = load_timings.get(name, 0.0) + seconds
        embed_started = time.perf_counter()
        bar = progress_bar(len(todo), f"embedding with {embedder.model_id}", settings.progress)
        for start in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[start : start + EMBED_CHUNK]
            vectors = embedder.embed(
                [t for _, t in chunk], "passage", batch_size=settings.batch_size
            )
            store.put(con, embedder.model_id, [h for h, _ in chunk], vectors)
            bar.update(len(chunk))
        bar.close()
        embed_s = time.perf_counter() - embed_started
        indexed = sync_index(con, settings.index_dir, embedder.model_id, embedder.dim)
        counts = {"embeddings_new": len(todo), "indexed_passages": indexed}
        # embed_s is inference (and caching) only; the model's build and load are their own
        timings = load_timings | {"embed_s": embed_s, "embed_step_s": time.perf_counter() - started}
        if todo:
            timings["passages_per_s"] = len(todo) / max(embed_s, 1e-9)
        runs.update_run(con, run_id, counts=counts, timings=timings, model_id=embedder.model_id)
    # the same words as the embed flow's summary: the CLI's console prints a repeat once
    log.info("embed: %d new vectors; index holds %d", len(todo), indexed)
    return counts | {"passages_per_s": timings.get("passages_per_s")}
