"""The pipeline's steps as plain functions: ingest, embed, match, aggregate.

Each step opens the database for writing (`store.writer`) for its own duration only, records
what it did in the run's row, and is idempotent: documents are keyed by source and id, vectors
by (model id, text hash), matches by (passage, set version, model). The Prefect flows in
`flows/` and the CLI are thin layers over these functions.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from embeddings import cache
from embeddings.base import Embedder, get_embedder, progress_bar
from embeddings.index import IVF_THRESHOLD
from narratives import rollup, runs, snapshots
from narratives.definitions import NarrativeSet, load_set
from narratives.documents import store_documents
from narratives.ingest.files import read_jsonl
from narratives.matching import (
    EXEMPLAR_ROLE,
    GENERIC_BACKGROUND,
    ExemplarBank,
    get_scorer,
    scorer_parameters,
)
from narratives.settings import Settings
from narratives.store import fetch_arrow, transaction, writer

log = logging.getLogger("narratives.pipeline")

SPLITTER = "sentences-v1"
LANGID = "lingua-v1"
AGGREGATION = "any-passage"
DEDUP = "sha1-normalised+minhash-lsh-w3-j0.6"  # narratives.ingest.dedup: exact, then near copies
EMBED_CHUNK = 512  # texts embedded and committed together: a crash loses at most this many
MATCH_CHUNK = 4096


@lru_cache(maxsize=4)
def load_embedder(spec: str, models_dir: Path | None = None) -> Embedder:
    """One embedder per model per process: loading a model is the slow part of a small run."""
    return get_embedder(spec, models_dir=models_dir)


def components(settings: Settings) -> dict:
    return {
        "embedder": settings.model,
        "splitter": SPLITTER,
        "langid": LANGID,
        "scorer": settings.scorer,
        "background": GENERIC_BACKGROUND,
        "aggregation": AGGREGATION,
        "index": f"faiss-flat-ip, ivf-flat-ip past {IVF_THRESHOLD}",
        "dedup": DEDUP,
    }


def parameters(settings: Settings) -> dict:
    keys = ("max_passage_words", "top_k_matches", "suggest_margin", "batch_size")
    return (
        {k: getattr(settings, k) for k in keys}
        | scorer_parameters(settings.scorer)
        | {
            "sources": str(settings.sources) if settings.sources else None,
        }
    )


def begin(settings: Settings, kind: str = "pipeline") -> int:
    nset = load_set(settings.narrative_set)
    with writer(settings.database, settings.lock_wait_s) as con:
        run_id = runs.start_run(
            con, kind, components=components(settings), parameters=parameters(settings),
            set_id=nset.id, set_version=nset.version,
        )  # fmt: skip
    log.info("run %d started (%s, set %s@%s)", run_id, kind, nset.id, nset.version)
    return run_id


def finish(settings: Settings, run_id: int, error: BaseException | None = None) -> dict:
    """Close the run's record; after a good run, publish the read-only snapshot dashboards read
    (narratives.snapshots), made while this step holds the database, so it has the finished run."""
    with writer(settings.database, settings.lock_wait_s) as con:
        runs.finish_run(con, run_id, "failed" if error else "ok", error)
        if error is None:
            snapshots.publish(con, settings.database, settings.index_dir, settings.snapshots_dir,
                              run_id, keep=settings.snapshot_keep)  # fmt: skip
        return runs.get_run(con, run_id)


# --- ingest ----------------------------------------------------------------------------------
def corpus_source_id(path: Path) -> str:
    return f"file:{path.parent.name}/{path.name}"


def ingest_step(settings: Settings, run_id: int) -> dict:
    """Ingest the sources file when one is set, else the corpus file; under the ingest lock."""
    from narratives.ingest.state import ingest_lock

    started = time.perf_counter()
    if settings.sources is not None:
        from narratives.ingest.runner import ingest_sources, record_run

        summaries = ingest_sources(settings, settings.sources, run_id=run_id)
        counts = record_run(settings, run_id, summaries)
        with writer(settings.database, settings.lock_wait_s) as con:
            runs.update_run(con, run_id, timings={"ingest_s": time.perf_counter() - started})
        return counts
    items = read_jsonl(settings.corpus)
    with ingest_lock(settings.home), writer(settings.database, settings.lock_wait_s) as con:
        result = store_documents(
            con, corpus_source_id(settings.corpus), items,
            run_id=run_id, max_words=settings.max_passage_words,
        )  # fmt: skip
        counts = result.as_counts()
        runs.update_run(
            con, run_id, counts=counts, timings={"ingest_s": time.perf_counter() - started}
        )
    log.info(
        "ingest: %d new documents (%d passages, %d reprints), %d already stored, %d bad items",
        result.documents_new, result.passages_new, result.reprints, result.documents_seen,
        result.errors,
    )  # fmt: skip
    return counts


# --- embed -----------------------------------------------------------------------------------
def embed_step(settings: Settings, run_id: int, embedder: Embedder | None = None) -> dict:
    embedder = embedder or load_embedder(settings.model, settings.models_dir)
    started = time.perf_counter()
    with writer(settings.database, settings.lock_wait_s) as con:
        todo = con.execute(
            "SELECT p.text_hash, any_value(p.text) FROM passages p "
            "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = ? AND e.text_hash = p.text_hash) "
            "GROUP BY p.text_hash ORDER BY min(p.id)",
            [embedder.model_id],
        ).fetchall()
        log.info("embed: %d passage texts to embed with %s", len(todo), embedder.model_id)
        embed_started = time.perf_counter()
        bar = progress_bar(len(todo), f"embedding with {embedder.model_id}", settings.progress)
        for start in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[start : start + EMBED_CHUNK]
            vectors = embedder.embed(
                [t for _, t in chunk], "passage", batch_size=settings.batch_size
            )
            cache.put(con, embedder.model_id, [h for h, _ in chunk], vectors)
            bar.update(len(chunk))
        bar.close()
        embed_s = time.perf_counter() - embed_started
        indexed = sync_index(con, settings.index_dir, embedder.model_id, embedder.dim)
        counts = {"embeddings_new": len(todo), "indexed_passages": indexed}
        timings = {"embed_s": embed_s, "embed_step_s": time.perf_counter() - started}
        if todo:
            timings["passages_per_s"] = len(todo) / max(embed_s, 1e-9)
        runs.update_run(con, run_id, counts=counts, timings=timings, model_id=embedder.model_id)
    log.info("embed: %d new vectors, index holds %d passages", len(todo), indexed)
    return counts | {"passages_per_s": timings.get("passages_per_s")}


def sync_index(con, index_dir: Path, model_id: str, dim: int) -> int:
    """Bring the model's FAISS index in step with DuckDB: add passages it lacks, or rebuild it
    from the stored vectors when it is missing, damaged, or disagrees with the database."""
    from embeddings.index import IndexMismatch, VectorIndex, index_path_for

    path = index_path_for(index_dir, model_id)
    expected = con.execute(
        "SELECT count(*), coalesce(max(p.id), -1) FROM passages p JOIN embeddings e "
        "ON e.text_hash = p.text_hash AND e.model_id = ?",
        [model_id],
    ).fetchall()[0]
    index = None
    try:
        index = VectorIndex.load(path, model_id)
    except FileNotFoundError:
        log.info("index %s missing: building it from DuckDB", path)
    except (IndexMismatch, RuntimeError, ValueError) as exc:
        log.warning("index %s unusable (%s): rebuilding it from DuckDB", path, exc)
    after = -1
    if index is not None:
        if (index.count(), index.max_id) == tuple(expected):
            return index.count()
        in_db_below = con.execute(
            "SELECT count(*) FROM passages p JOIN embeddings e ON e.text_hash = p.text_hash "
            "AND e.model_id = ? WHERE p.id <= ?",
            [model_id, index.max_id],
        ).fetchall()[0][0]
        if in_db_below == index.count():
            after = index.max_id  # only newer passages are missing: append them
        else:
            log.warning("index %s out of step with DuckDB: rebuilding", path)
            index = None
    if index is None:
        index = VectorIndex(model_id, dim)
    for ids, vectors in stored_vectors(con, model_id, after_id=after):
        index.add(ids, vectors)
    index.save(path)
    return index.count()


def stored_vectors(con, model_id: str, after_id: int = -1, chunk: int = 50_000):
    """(passage ids, vectors) of stored passages in id order, streamed in chunks."""
    last = after_id
    while True:
        table = fetch_arrow(
            con,
            "SELECT p.id, e.vector FROM passages p JOIN embeddings e "
            "ON e.text_hash = p.text_hash AND e.model_id = ? WHERE p.id > ? ORDER BY p.id LIMIT ?",
            [model_id, last, chunk],
        )
        if table.num_rows == 0:
            return
        ids = table.column("id").to_numpy()
        yield ids, cache.vectors_from_arrow(table.column("vector"))
        last = int(ids[-1])


# --- match -----------------------------------------------------------------------------------
def register_set(con, nset: NarrativeSet) -> None:
    """Store a set version's definition once; later runs of the same version find it there."""
    import json

    exists = con.execute(
        "SELECT count(*) FROM narrative_sets WHERE set_id = ? AND version = ?",
        [nset.id, nset.version],
    ).fetchall()[0][0]
    if exists:
        return
    with transaction(con):
        con.execute(
            "INSERT INTO narrative_sets (set_id, version, title, event_date, source_path, definition) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [nset.id, nset.version, nset.title, nset.event_date, str(nset.path or ""),
             json.dumps(nset.to_dict(), ensure_ascii=False)],
        )  # fmt: skip
        for n in nset.narratives:
            con.execute(
                "INSERT INTO narratives VALUES (?, ?, ?, ?, ?, ?, ?)",
                [nset.id, nset.version, n.id, n.label, n.description, n.threshold, n.version],
            )
            for lang, texts in n.exemplars.items():
                for seq, text in enumerate(texts):
                    con.execute(
                        "INSERT INTO exemplars VALUES (?, ?, ?, ?, ?, ?)",
                        [nset.id, nset.version, n.id, lang, seq, text],
                    )


def exemplar_bank(con, nset: NarrativeSet, embedder: Embedder) -> tuple[ExemplarBank, int]:
    ids, langs, texts = ExemplarBank.texts_of(nset)
    vectors, new = cache.embed_cached(con, embedder, texts, EXEMPLAR_ROLE)
    return ExemplarBank(ids, langs, texts, vectors), new


def match_step(settings: Settings, run_id: int, embedder: Embedder | None = None) -> dict:
    embedder = embedder or load_embedder(settings.model, settings.models_dir)
    nset = load_set(settings.narrative_set)
    scorer = get_scorer(settings.scorer)
    started = time.perf_counter()
    written = 0
    with writer(settings.database, settings.lock_wait_s) as con:
        register_set(con, nset)
        bank, exemplars_new = exemplar_bank(con, nset, embedder)
        todo = con.execute(
            "SELECT p.id, p.text_hash FROM passages p "
            "JOIN embeddings e ON e.text_hash = p.text_hash AND e.model_id = $model "
            "WHERE NOT EXISTS (SELECT 1 FROM matches m WHERE m.passage_id = p.id AND m.set_id = $set "
            "AND m.set_version = $version AND m.model_id = $model) ORDER BY p.id",
            {"model": embedder.model_id, "set": nset.id, "version": nset.version},
        ).fetchall()
        for start in range(0, len(todo), MATCH_CHUNK):
            chunk = todo[start : start + MATCH_CHUNK]
            vectors = cache.get(con, embedder.model_id, [h for _, h in chunk])
            decisions = scorer(
                vectors,
                bank,
                nset,
                top_k=settings.top_k_matches,
                suggest_margin=settings.suggest_margin,
            )
            written += _insert_matches(
                con, [pid for pid, _ in chunk], decisions, nset, embedder.model_id, run_id
            )
        con.execute(
            "INSERT OR REPLACE INTO matchings (set_id, set_version, model_id, run_id, updated_at) "
            "VALUES (?, ?, ?, ?, current_timestamp)",
            [nset.id, nset.version, embedder.model_id, run_id],
        )
        confirmed = con.execute(
            "SELECT count(*) FROM matches WHERE run_id = ? AND decision = 'confirmed'", [run_id]
        ).fetchall()[0][0]
        counts = {
            "passages_matched": len(todo),
            "matches_new": written,
            "confirmed_new": confirmed,
            "exemplar_embeddings_new": exemplars_new,
        }
        runs.update_run(
            con, run_id, counts=counts, timings={"match_s": time.perf_counter() - started},
            model_id=embedder.model_id, set_id=nset.id, set_version=nset.version,
        )  # fmt: skip
    log.info(
        "match: %d passages scored against %s@%s, %d confirmed",
        len(todo),
        nset.id,
        nset.version,
        confirmed,
    )
    return counts


def _insert_matches(
    con, passage_ids, decisions, nset: NarrativeSet, model_id: str, run_id: int
) -> int:
    cols: dict[str, list] = {k: [] for k in ("passage_id", "narrative_id", "rank", "score", "threshold",
                                             "exemplar_text", "exemplar_lang", "margin", "decision")}  # fmt: skip
    for pid, row in zip(passage_ids, decisions, strict=True):
        for d in row:
            cols["passage_id"].append(pid)
            for key in ("narrative_id", "rank", "score", "threshold", "exemplar_text", "exemplar_lang",
                        "margin", "decision"):  # fmt: skip
                cols[key].append(getattr(d, key))
    n = len(cols["passage_id"])
    table = pa.table(
        cols
        | {
            "passage_id": pa.array(cols["passage_id"], pa.int64()),
            "set_id": [nset.id] * n,
            "set_version": [nset.version] * n,
            "model_id": [model_id] * n,
            "run_id": pa.array([run_id] * n, pa.int64()),
        }
    )
    con.register("_matches", table)
    try:
        con.execute("INSERT OR REPLACE INTO matches BY NAME SELECT * FROM _matches")
    finally:
        con.unregister("_matches")
    return n


# --- aggregate -------------------------------------------------------------------------------
def aggregate_step(settings: Settings, run_id: int) -> dict:
    """Export the prevalence views as Parquet for analysts and report what the run tracks."""
    started = time.perf_counter()
    out = settings.exports_dir
    out.mkdir(parents=True, exist_ok=True)
    with writer(settings.database, settings.lock_wait_s) as con:
        # prevalence queries read this rollup while it is current (narratives/rollup.py)
        rollup_rows = rollup.refresh(con, run_id)
        # the daily export reads the rollup just written (the same rows) instead of the view again
        exports = {"prevalence_daily": rollup.TABLE, "prevalence_weekly": "prevalence_weekly"}
        for name, source in exports.items():
            con.execute(
                f"COPY (SELECT * FROM {source} ORDER BY ALL) TO '{out / name}.parquet' (FORMAT parquet)"
            )
        rows = con.execute(
            f"SELECT narrative_id, sum(matched_documents), sum(matched_passages) FROM {rollup.TABLE} "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        counts = {"documents_with_narrative": {r[0]: int(r[1]) for r in rows},
                  "prevalence_rollup_rows": rollup_rows}  # fmt: skip
        runs.update_run(
            con, run_id, counts=counts, timings={"aggregate_s": time.perf_counter() - started}
        )
    return counts


def run_pipeline(settings: Settings, embedder: Embedder | None = None) -> dict:
    """All steps in order, without Prefect (the flows in `flows/` do the same with retries)."""
    run_id = begin(settings)
    try:
        ingest_step(settings, run_id)
        embed_step(settings, run_id, embedder)
        match_step(settings, run_id, embedder)
        aggregate_step(settings, run_id)
    except BaseException as exc:
        finish(settings, run_id, exc)
        raise
    return finish(settings, run_id)
