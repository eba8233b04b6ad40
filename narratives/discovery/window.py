"""What a clustering reads: a window of stored passages with their vectors (all of them, or the
residual no live narrative claims), the live set's exemplar vectors, and which passages the
matcher confirmed. Nothing is embedded here: vectors come from the cache, so discovery is cheap
to repeat and never needs the model."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from embeddings.base import text_hash
from narratives.discovery.kmeans import unit
from narratives.matching.bank import EXEMPLAR_ROLE
from narratives.matching.queries import set_texts
from narratives.vectors import store as vector_store

SCOPES = ("all", "residual")


@dataclass
class Window:
    passage_ids: np.ndarray
    document_ids: np.ndarray
    langs: np.ndarray
    days: list[dt.date]
    texts: list[str]
    vectors: np.ndarray  # unit vectors, as stored


def load_window(con, model_id: str, start=None, end=None, scope: str = "all") -> Window:
    """Stored passages published in [start, end] with their vectors; for scope `residual`, only
    those no live narrative confirmed or suggested."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    residual = (
        "AND NOT EXISTS (SELECT 1 FROM live_matches m WHERE m.passage_id = f.passage_id "
        "AND m.decision IN ('confirmed', 'suggested')) AND EXISTS (SELECT 1 FROM document_scope s "
        "WHERE s.document_id = f.document_id AND s.in_scope)"
        if scope == "residual"
        else ""
    )
    table = con.sql(
        f"""SELECT f.passage_id, f.document_id, f.lang, f.day, p.text, e.vector
        FROM passage_facts f JOIN passages p ON p.id = f.passage_id
        JOIN embeddings e ON e.text_hash = p.text_hash AND e.model_id = $1
        WHERE ($2::DATE IS NULL OR f.day >= $2) AND ($3::DATE IS NULL OR f.day <= $3) {residual}
        -- a reprinted passage is one passage (its first publication), not one per reprint
        QUALIFY row_number() OVER (PARTITION BY f.passage_id ORDER BY f.day, f.document_id) = 1
        ORDER BY f.passage_id""",
        params=[model_id, start, end],
    ).to_arrow_table()
    vectors = vector_store.vectors_from_arrow(table.column("vector")) if table.num_rows else None
    return Window(
        passage_ids=table.column("passage_id").to_numpy(),
        document_ids=table.column("document_id").to_numpy(),
        langs=np.array(table.column("lang").to_pylist(), dtype=object),
        days=table.column("day").to_pylist(),
        texts=table.column("text").to_pylist(),
        vectors=unit(vectors) if vectors is not None else np.zeros((0, 0), np.float32),
    )


def exemplar_vectors(con, set_id: str, version: str, model_id: str):
    """(narrative ids, vectors, thresholds) of a stored set version's exemplars and
    descriptions, from the vector cache: the match step embedded them under EXEMPLAR_ROLE."""
    rows, thresholds = set_texts(con, set_id, version)
    hashes = [text_hash(t, EXEMPLAR_ROLE) for _, t in rows]
    have = set(hashes) - set(vector_store.missing_hashes(con, model_id, hashes))
    kept = [(nid, h) for (nid, _), h in zip(rows, hashes, strict=True) if h in have]
    if not kept:
        return [], np.zeros((0, 0), np.float32), thresholds
    vectors = unit(vector_store.get(con, model_id, [h for _, h in kept]))
    return [nid for nid, _ in kept], vectors, thresholds


def confirmed_for(con, passage_ids: np.ndarray) -> dict[int, set[str]]:
    con.register("_ids", {"passage_id": passage_ids.astype(np.int64)})
    try:
        rows = con.execute(
            "SELECT m.passage_id, list(DISTINCT m.narrative_id) FROM live_matches m "
            "JOIN _ids USING (passage_id) WHERE m.decision = 'confirmed' GROUP BY 1"
        ).fetchall()
    finally:
        con.unregister("_ids")
    return {int(pid): set(nids) for pid, nids in rows}
