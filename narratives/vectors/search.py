"""Ad-hoc cross-lingual search: a query in any language, nearest passages in all languages.

The query is embedded in the model's query role and searched in the model's FAISS index of
passages; hits are joined with DuckDB for their text, outlet and date. The reader never writes:
an index that is missing or behind the database is rebuilt in memory for this search only.
"""

from __future__ import annotations

import logging

from embeddings.base import Embedder
from narratives.core.langs import TRACKED
from narratives.core.store import reader
from narratives.ingest.queries import passage_details
from narratives.vectors.index import IndexMismatch, VectorIndex, index_path_for
from narratives.vectors.store import embedded_passages, stored_vectors

log = logging.getLogger(__name__)


def open_index(con, index_dir, model_id: str, dim: int):
    stored, max_id = embedded_passages(con, model_id)
    if stored == 0:
        raise LookupError(
            f"no passages are embedded with {model_id}; run `narratives run` (with the same --model) first"
        )
    try:
        index = VectorIndex.load(index_path_for(index_dir, model_id), model_id)
        if (index.count(), index.max_id) == (stored, max_id):
            return index
        log.warning("the saved index is behind the database: searching an in-memory copy")
    except (FileNotFoundError, IndexMismatch) as exc:  # IndexDamaged too: a damaged file
        log.warning("no usable saved index (%s): searching an in-memory copy; the next "
                    "`narratives run` saves a good one", exc)  # fmt: skip
    index = VectorIndex(model_id, dim)
    for ids, vectors in stored_vectors(con, model_id):
        index.add(ids, vectors)
    return index


def search(
    db_path, index_dir, embedder: Embedder, query: str, k: int = 10, lang: str | None = None
) -> list[dict]:
    return _search_languages(db_path, index_dir, embedder, query, k, [lang])[0]


def search_each_language(
    db_path, index_dir, embedder: Embedder, query: str, k_each: int = 10,
    langs: tuple[str, ...] = TRACKED,
) -> list[dict]:  # fmt: skip
    """The best `k_each` passages of every language, taken in turns (rank 1 of each language,
    then rank 2...). A multilingual model ranks passages in the query's own language a little
    higher, so a plain top-k can miss the other languages altogether: this is the cross-lingual
    view an analyst asks for."""
    per_lang = _search_languages(db_path, index_dir, embedder, query, k_each, list(langs))
    ranked = [(i, h) for hits in per_lang for i, h in enumerate(hits)]
    return [h for _, h in sorted(ranked, key=lambda t: (t[0], -t[1]["score"]))]


def _search_languages(db_path, index_dir, embedder: Embedder, query: str, k: int, langs: list):
    """Top k for each language in `langs` (None = any language), embedding the query and opening
    the index once for all of them."""
    if not query or not query.strip():
        raise ValueError('give a query: narratives search "free text in any language"')
    if k < 1:
        raise ValueError("-k must be at least 1")
    query_vector = embedder.embed([query], "query")
    with reader(db_path) as con:
        index = open_index(con, index_dir, embedder.model_id, embedder.dim)
        return [_top_k(con, index, query_vector, k, lang) for lang in langs]


def _top_k(con, index, query_vector, k: int, lang: str | None) -> list[dict]:
    fetch = k if lang is None else min(index.count(), k * 20)
    while True:
        scores, ids = index.search(query_vector, fetch)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        rows = _rows(con, hits, lang)
        if len(rows) >= k or fetch >= index.count():
            return rows[:k]
        fetch = min(index.count(), fetch * 4)


def _rows(con, hits: list[tuple[int, float]], lang: str | None) -> list[dict]:
    score = dict(hits)
    rows = [r | {"score": score[r["id"]]} for r in passage_details(con, list(score), lang)]
    rows.sort(key=lambda r: -r["score"])
    return rows


def ranked(
    db_path, index_dir, embedder: Embedder, query: str, k: int = 20, min_score: float = 0.0,
    lang: str | None = None, pool: int = 200,
) -> list[dict]:  # fmt: skip
    """One ranking by similarity over every language (or `lang`): the hits scoring at least
    `min_score`, with a passage reprinted elsewhere shown once. Each hit has `copies`: the other
    hits with the same text (or the same passage of a reprinted document) folded into it, plus
    the documents stored as its reprints (whose passages are not stored again), so the reader
    sees "+N reprints" instead of the same text N times. The first `pool` hits are collapsed,
    then the best `k` are kept."""
    hits = [h for h in search(db_path, index_dir, embedder, query, max(k, pool), lang)
            if h["score"] >= min_score]  # fmt: skip
    with reader(db_path) as con:
        info = _copy_keys(con, [h["id"] for h in hits])
    out: list[dict] = []
    seen: dict[tuple, dict] = {}
    for h in hits:  # best first: the first of a group stands for it
        text_key, doc_key, reprinted = info.get(h["id"], (None, None, 0))
        group = seen.get(("text", text_key)) or seen.get(("doc", doc_key))
        if group is not None:
            group["copies"] += 1
            continue
        h = h | {"copies": reprinted}
        out.append(h)
        seen[("text", text_key)] = seen[("doc", doc_key)] = h
    return out[:k]


def _copy_keys(con, passage_ids: list[int]) -> dict[int, tuple]:
    """passage id -> (normalised text, (root document, passage seq), documents reprinting it):
    the root document is the original a reprint was copied from (itself if none)."""
    if not passage_ids:
        return {}
    rows = con.execute(
        """SELECT p.id, lower(regexp_replace(trim(p.text), '\\s+', ' ', 'g')),
                  coalesce((SELECT min(r.original_id) FROM reprints r
                            WHERE r.reprint_id = p.document_id), p.document_id) AS root, p.seq,
                  (SELECT count(*) FROM reprints r WHERE r.original_id = p.document_id)
           FROM passages p WHERE p.id IN (SELECT unnest(?))""",
        [list(passage_ids)],
    ).fetchall()
    return {pid: (text, (root, seq), int(n)) for pid, text, root, seq, n in rows}
