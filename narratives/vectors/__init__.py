"""Passage vectors: the cache keyed by (model id, text hash) and the FAISS index beside it
(`store`, `index`), the embed step (`step`) and cross-lingual search (`search`).
Owns the `embeddings` table and the index files under `<home>/index`."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = ("embeddings",)
