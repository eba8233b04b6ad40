"""A FAISS vector index with explicit int64 ids and a JSON sidecar (the contract of txtai's
`ann/base.py`: add / search / save / load / count).

Ids are the caller's ids (the tracker uses DuckDB passage ids), vectors are L2-normalised and
compared by inner product, so scores are cosines.

Index choice by size: exact search (flat) up to `IVF_THRESHOLD` vectors, where one query costs
a few milliseconds; past it the index converts itself once to IVF-flat (k-means cells, `nprobe`
of them searched), which keeps a query over 1M passages in a few milliseconds at recall@10 above
0.95 (`make bench` measures both side by side). New vectors are added to the trained cells.
Past `SHARD_THRESHOLD` it hands its vectors once to a sharded IVF-PQ index with an exact re-rank
(`shards.py`: compressed cells, float16 vectors kept on disk and memory-mapped, shards by id
range; its path is a folder, not a file). The sidecar records the model id, dimension,
count, the largest id and library versions; `load` refuses an index whose sidecar disagrees with
what the caller expects, so an index of one model is never searched with another's queries.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".json"
FORMAT_VERSION = 2
IVF_THRESHOLD = 200_000  # vectors; below it exact search is fast enough and needs no training
IVF_NPROBE = 32
TRAIN_PER_CELL = 64  # k-means sample: this many vectors per cell (FAISS warns below 39)
# past it IVF-flat's floats (1.5 GB a million) give way to sharded IVF-PQ (benchmarks/scale_index)
SHARD_THRESHOLD = 1_000_000
SHARDED = "sharded-ivfpq-ip"


class IndexMismatch(RuntimeError):
    """The stored index does not belong to the expected model or is out of step."""


class IndexDamaged(IndexMismatch):
    """The stored index or its sidecar cannot be read (cut short, overwritten, another format):
    like a mismatch, it is rebuilt from DuckDB, which holds every vector."""


@dataclass
class Sidecar:
    model_id: str
    dim: int
    count: int = 0
    max_id: int = -1
    kind: str = "flat-ip"  # or "ivf-flat-ip", or SHARDED
    versions: dict = field(default_factory=dict)
    nlist: int = 0
    nprobe: int = 0


class VectorIndex:
    def __init__(self, model_id: str, dim: int, ivf_threshold: int | None = IVF_THRESHOLD,
                 nprobe: int = IVF_NPROBE, shard_threshold: int | None = SHARD_THRESHOLD):  # fmt: skip
        import faiss

        self.model_id = model_id
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.max_id = -1
        self.kind = "flat-ip"
        self.ivf_threshold = ivf_threshold  # None: always exact
        self.nprobe = nprobe
        self.shard_threshold = shard_threshold  # None: never sharded

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
        if self.kind != SHARDED and self.shard_threshold and self.count() > self.shard_threshold:
            self._to_sharded()
        elif self.kind == "flat-ip" and self.ivf_threshold and self.count() > self.ivf_threshold:
            self._to_ivf()

    def _to_ivf(self) -> None:
        """Re-file every vector into a trained IVF index (once, when the index outgrows flat)."""
        import faiss

        n = self.count()
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, n)  # flat storage, in insertion order
        nlist = nlist_for(n)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                 faiss.METRIC_INNER_PRODUCT)  # fmt: skip
        sample = np.random.default_rng(0).choice(n, min(n, nlist * TRAIN_PER_CELL), replace=False)
        ivf.train(vectors[np.sort(sample)])
        ivf.add_with_ids(vectors, ids)
        ivf.nprobe = self.nprobe
        self._index, self.kind = ivf, "ivf-flat-ip"

    def _to_sharded(self) -> None:
        """Hand every vector to a sharded IVF-PQ index, trained on them at once (once)."""
        import faiss

        from narratives.vectors.shards import ShardedIndex

        if self.kind == "flat-ip":
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            vectors = self._index.index.reconstruct_n(0, self.count())
        else:  # IVF-flat: each cell holds its ids and raw float codes
            ivf, parts = faiss.extract_index_ivf(self._index), []
            lists = ivf.invlists
            for cell in range(ivf.nlist):
                size = lists.list_size(cell)
                if size:
                    cell_ids = faiss.rev_swig_ptr(lists.get_ids(cell), size).copy()
                    codes = faiss.rev_swig_ptr(lists.get_codes(cell), size * ivf.code_size)
                    parts.append((cell_ids, codes.view(np.float32).reshape(size, self.dim).copy()))
            ids = np.concatenate([p[0] for p in parts])
            vectors = np.concatenate([p[1] for p in parts])
        order = np.argsort(ids)
        sharded = ShardedIndex(self.dim, train_threshold=min(self.shard_threshold, len(ids)))
        self._index, self.kind = None, SHARDED  # let the old index go before filling the new
        for s in range(0, len(ids), 100_000):
            sharded.add(ids[order[s : s + 100_000]], vectors[order[s : s + 100_000]])
        self._index, self.nprobe = sharded, sharded.nprobe

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
        if self.kind == SHARDED:  # a folder of shards, written shard by shard
            if path.is_file():
                path.unlink()
            self._index.save(path)
            _write_json(sidecar_path(path), asdict(self.sidecar()))
            return path
        if path.is_dir():  # a sharded index this one replaces
            import shutil

            shutil.rmtree(path)
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
        meta = read_sidecar(sidecar_path(path))
        if model_id is not None and meta.model_id != model_id:
            raise IndexMismatch(f"index {path} holds {meta.model_id} vectors, not {model_id}")
        try:
            if meta.kind == SHARDED:
                from narratives.vectors.shards import ShardedIndex

                raw = ShardedIndex.load(path, mmap=True)
            else:
                raw = faiss.read_index(str(path))
        # FAISS reports a damaged file as a C++ error, many lines long
        except (RuntimeError, IsADirectoryError, NotADirectoryError) as exc:
            raise IndexDamaged(f"index {path} cannot be read ({_first_line(exc)})") from exc
        if raw.ntotal != meta.count or raw.d != meta.dim:
            raise IndexMismatch(
                f"index {path} has {raw.ntotal} vectors, its sidecar says {meta.count}"
            )
        obj = cls.__new__(cls)
        obj.model_id, obj.dim, obj._index, obj.max_id = meta.model_id, meta.dim, raw, meta.max_id
        obj.kind, obj.ivf_threshold, obj.shard_threshold = meta.kind, IVF_THRESHOLD, SHARD_THRESHOLD
        obj.nprobe = meta.nprobe or IVF_NPROBE
        if obj.kind == SHARDED:
            raw.tune(nprobe=obj.nprobe)
        if obj.kind == "ivf-flat-ip":
            try:
                faiss.extract_index_ivf(raw).nprobe = obj.nprobe
            except RuntimeError as exc:  # the sidecar says IVF, the file holds something else
                raise IndexDamaged(f"index {path} is not the IVF index its sidecar says") from exc
        return obj

    # -- helpers -----------------------------------------------------------------------------
    def sidecar(self) -> Sidecar:
        import faiss

        return Sidecar(
            model_id=self.model_id,
            dim=self.dim,
            count=self.count(),
            max_id=self.max_id,
            kind=self.kind,
            versions={"faiss": faiss.__version__, "format": FORMAT_VERSION},
            nlist=int(self._index.nlist) if self.kind in ("ivf-flat-ip", SHARDED) else 0,
            nprobe=self.nprobe if self.kind in ("ivf-flat-ip", SHARDED) else 0,
        )


def nlist_for(n: int) -> int:
    """IVF cells for n vectors: ~sqrt(n) (1,000 at 1M), so a probe scans about n / 30 vectors
    at nprobe 32 and k-means trains on a sample of a few hundred thousand."""
    return int(max(64, min(4096, round(np.sqrt(n)))))


def read_sidecar(path: Path) -> Sidecar:
    """The sidecar's fields, or IndexDamaged when it is not one this release can trust: not JSON,
    a field missing or of the wrong type, or a field it does not know (a newer format's)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexDamaged(f"index sidecar {path} is not JSON ({exc})") from exc
    known = set(Sidecar.__dataclass_fields__)
    if not isinstance(data, dict) or set(data) - known or not {"model_id", "dim"} <= set(data):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise IndexDamaged(f"index sidecar {path} has fields {keys}, expected {sorted(known)}")
    meta = Sidecar(**data)
    numbers = (meta.dim, meta.count, meta.max_id, meta.nlist, meta.nprobe)
    if not isinstance(meta.model_id, str) or not all(type(n) is int for n in numbers):
        raise IndexDamaged(f"index sidecar {path} has a field of the wrong type")
    return meta


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


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


def sync_index(con, index_dir: Path, model_id: str, dim: int) -> int:
    """Bring the model's FAISS index in step with DuckDB: add passages it lacks, or rebuild it
    from the stored vectors when it is missing, damaged, or disagrees with the database."""
    from narratives.vectors.store import embedded_passages, stored_vectors

    path = index_path_for(index_dir, model_id)
    expected = embedded_passages(con, model_id)
    index = None
    try:
        index = VectorIndex.load(path, model_id)
    except FileNotFoundError:
        log.info("index %s missing: building it from DuckDB", path)
    except (IndexMismatch, RuntimeError, ValueError, TypeError) as exc:
        # damaged, another model's or out of step: DuckDB holds every vector, so rebuild
        log.warning("index %s unusable (%s): rebuilding it from DuckDB", path, exc)
    after = -1
    if index is not None:
        if (index.count(), index.max_id) == tuple(expected):
            return index.count()
        in_db_below = embedded_passages(con, model_id, up_to=index.max_id)[0]
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
