"""A FAISS vector index with explicit int64 ids and a JSON sidecar (the contract of txtai's
`ann/base.py`: add / search / save / load / count).

Ids are the caller's ids (the tracker uses DuckDB passage ids), vectors are L2-normalised and
compared by inner product, so scores are cosines. The sidecar records the model id, dimension,
count, the largest id and library versions; `load` refuses an index whose sidecar disagrees with
what the caller expects, so an index of one model is never searched with another's queries.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

SIDECAR_SUFFIX = ".json"
FORMAT_VERSION = 1


class IndexMismatch(RuntimeError):
    """The stored index does not belong to the expected model or is out of step."""


@dataclass
class Sidecar:
    model_id: str
    dim: int
    count: int = 0
    max_id: int = -1
    kind: str = "flat-ip"
    versions: dict = field(default_factory=dict)


class VectorIndex:
    def __init__(self, model_id: str, dim: int):
        import faiss

        self.model_id = model_id
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.max_id = -1

    # -- the contract ------------------------------------------------------------------------
    def add(self, ids, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must be (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids) == 0:
            return
        self._index.add_with_ids(vectors, ids)
        self.max_id = max(self.max_id, int(ids.max()))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k'); k' = min(k, count). Missing slots have id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.count()))
        if self.count() == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self._index.search(queries, k)

    def count(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: str | os.PathLike) -> Path:
        import faiss

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write to temporary names and rename, so a crash never leaves a half-written index
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)
        _write_json(sidecar_path(path), asdict(self.sidecar()))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, model_id: str | None = None) -> VectorIndex:
        import faiss

        path = Path(path)
        if not path.exists() or not sidecar_path(path).exists():
            raise FileNotFoundError(f"no index at {path} (or its sidecar {sidecar_path(path)})")
        meta = Sidecar(**json.loads(sidecar_path(path).read_text()))
        if model_id is not None and meta.model_id != model_id:
            raise IndexMismatch(f"index {path} holds {meta.model_id} vectors, not {model_id}")
        raw = faiss.read_index(str(path))
        if raw.ntotal != meta.count or raw.d != meta.dim:
            raise IndexMismatch(
                f"index {path} has {raw.ntotal} vectors, its sidecar says {meta.count}"
            )
        obj = cls.__new__(cls)
        obj.model_id, obj.dim, obj._index, obj.max_id = meta.model_id, meta.dim, raw, meta.max_id
        return obj

    # -- helpers -----------------------------------------------------------------------------
    def sidecar(self) -> Sidecar:
        import faiss

        return Sidecar(
            model_id=self.model_id,
            dim=self.dim,
            count=self.count(),
            max_id=self.max_id,
            versions={"faiss": faiss.__version__, "format": FORMAT_VERSION},
        )


def sidecar_path(index_path: str | os.PathLike) -> Path:
    return Path(str(index_path) + SIDECAR_SUFFIX)


def index_path_for(index_dir: str | os.PathLike, model_id: str) -> Path:
    """One index file per model, named from the model id."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
    return Path(index_dir) / f"{safe}.faiss"


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)
