"""Vectors stored in DuckDB, keyed by (model id, text hash): text already embedded with a model
is never embedded again (the idea of llm's `content_hash`).

The caller hands in an open DuckDB connection; the table is created here if missing so the cache
works on any database, and the tracker's migrations create the same table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from embeddings.base import Embedder, Role, text_hash

DDL = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id   VARCHAR NOT NULL,
    text_hash  VARCHAR NOT NULL,
    dim        INTEGER NOT NULL,
    vector     FLOAT[] NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (model_id, text_hash)
)
"""


def ensure_table(con) -> None:
    con.execute(DDL)


def missing_hashes(con, model_id: str, hashes: Sequence[str]) -> list[str]:
    """The hashes (deduplicated, in first-seen order) that have no vector for this model."""
    unique = list(dict.fromkeys(hashes))
    if not unique:
        return []
    con.register("_wanted", pa.table({"text_hash": unique}))
    try:
        have = {
            r[0]
            for r in con.execute(
                "SELECT w.text_hash FROM _wanted w JOIN embeddings e "
                "ON e.text_hash = w.text_hash AND e.model_id = ?",
                [model_id],
            ).fetchall()
        }
    finally:
        con.unregister("_wanted")
    return [h for h in unique if h not in have]


def put(con, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> int:
    """Store vectors in one bulk insert through Arrow; existing keys are left untouched."""
    if len(hashes) == 0:
        return 0
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    table = pa.table({"text_hash": list(hashes), "vector": vectors_to_arrow(vectors)})
    con.register("_new_vectors", table)
    try:
        con.execute(
            "INSERT INTO embeddings (model_id, text_hash, dim, vector) "
            "SELECT ?, text_hash, ?, vector FROM _new_vectors ON CONFLICT DO NOTHING",
            [model_id, dim],
        )
    finally:
        con.unregister("_new_vectors")
    return len(hashes)


def get(con, model_id: str, hashes: Sequence[str]) -> np.ndarray:
    """Vectors for the given hashes, in their order; every hash must be present."""
    if not hashes:
        return np.zeros((0, 0), dtype=np.float32)
    con.register("_wanted", pa.table({"text_hash": list(hashes), "pos": np.arange(len(hashes))}))
    try:
        rows = con.sql(
            "SELECT w.pos, e.vector FROM _wanted w JOIN embeddings e "
            "ON e.text_hash = w.text_hash AND e.model_id = ? ORDER BY w.pos",
            params=[model_id],
        ).to_arrow_table()
    finally:
        con.unregister("_wanted")
    if rows.num_rows != len(hashes):
        raise KeyError(f"{len(hashes) - rows.num_rows} text(s) have no vector for {model_id}")
    return vectors_from_arrow(rows.column("vector"))


def vectors_to_arrow(vectors: np.ndarray) -> pa.ListArray:
    """An (n, dim) array as a list<float> Arrow column, without a Python loop (the inverse of
    `vectors_from_arrow`)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1), type=pa.float32()))


def vectors_from_arrow(column) -> np.ndarray:
    """A list<float> Arrow column as an (n, dim) float32 array, without a Python loop."""
    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    n = len(column)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(n, -1)


def embed_cached(
    con,
    embedder: Embedder,
    texts: Sequence[str],
    role: Role = "passage",
    *,
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for texts, embedding only those not yet cached. Returns (vectors, newly embedded)."""
    ensure_table(con)
    hashes = [text_hash(t, role) for t in texts]
    todo = missing_hashes(con, embedder.model_id, hashes)
    if todo:
        by_hash = dict(zip(hashes, texts, strict=True))
        vectors = embedder.embed([by_hash[h] for h in todo], role, progress=progress)
        put(con, embedder.model_id, todo, vectors)
    return get(con, embedder.model_id, hashes), len(todo)


def texts_to_embed(con, model_id: str) -> list[tuple[str, str]]:
    """(text hash, text) of stored passages with no vector for this model, oldest first."""
    return con.execute(
        "SELECT p.text_hash, any_value(p.text) FROM passages p "
        "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = ? AND e.text_hash = p.text_hash) "
        "GROUP BY p.text_hash ORDER BY min(p.id)",
        [model_id],
    ).fetchall()


def embedded_passages(con, model_id: str, up_to: int | None = None) -> tuple[int, int]:
    """(count, highest id) of stored passages that have a vector for this model (up to an id)."""
    return tuple(con.execute(
        "SELECT count(*), coalesce(max(p.id), -1) FROM passages p JOIN embeddings e "
        "ON e.text_hash = p.text_hash AND e.model_id = ? WHERE ? IS NULL OR p.id <= ?",
        [model_id, up_to, up_to],
    ).fetchall()[0])  # fmt: skip


def stored_vectors(con, model_id: str, after_id: int = -1, chunk: int = 50_000):
    """(passage ids, vectors) of stored passages in id order, streamed in chunks."""
    last = after_id
    while True:
        table = con.sql(
            "SELECT p.id, e.vector FROM passages p JOIN embeddings e "
            "ON e.text_hash = p.text_hash AND e.model_id = ? WHERE p.id > ? ORDER BY p.id LIMIT ?",
            params=[model_id, last, chunk],
        ).to_arrow_table()
        if table.num_rows == 0:
            return
        ids = table.column("id").to_numpy()
        yield ids, vectors_from_arrow(table.column("vector"))
        last = int(ids[-1])
