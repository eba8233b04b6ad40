"""A sharded IVF-PQ index for corpora past a million passages, with the small contract of
`index.py` (add / search / save / load / count; `ntotal` and `add_with_ids` as FAISS names them,
so `VectorIndex` can hold one where it held a FAISS index).

Why this shape:

- Compressed codes. IVF-flat keeps every float (1,536 bytes a vector); IVF-PQ keeps `m` bytes
  (dim / 4 by default: 96) in its cells, so the part every query scans stays small at 100M passages.
- Exact re-rank. PQ distances alone rarely reach recall@10 >= 0.95, so each query takes
  `k * k_factor` PQ candidates and re-scores them with stored vectors (float16 by default:
  768 bytes a vector, cosines within ~1e-3 of float32). Those vectors are `.npy` files that
  `load(mmap=True)` maps instead of reading: a query touches only its candidates' rows, and the
  page cache, not the process, holds the rest.
- One training, many shards. The coarse centroids and PQ codebooks are trained once, when the
  corpus first passes `train_threshold` (below it the stored vectors are searched exactly);
  every shard is an empty copy of that trained index. Shards hold consecutive passage-id
  ranges of at most `shard_size` vectors, so appending new passages touches only the last
  shard and `save` rewrites only shards that changed. Search fans out with FAISS's
  IndexShardsIVF: the common coarse quantizer runs once per query, each shard scans its part
  of the probed cells (a thread per shard), and FAISS merges the shards' top candidates.
  Because all shards share one training, the fan-out finds the candidates one unsharded index
  of the same content would, and the re-rank then sees the same candidates.
- Passage ids only grow, so a shard's ids are sorted: finding a candidate's stored vector is a
  binary search, and no id map is needed. Older ids are refused; the caller rebuilds.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np

from narratives.vectors.index import IndexDamaged

FORMAT_VERSION = 1
SHARD_SIZE = 1_000_000  # vectors a shard; its files stay ~0.8 GB and a thread scans each
TRAIN_THRESHOLD = 1_000_000  # below it the stored vectors are searched exactly
# PQ sub-quantizers: one for every 4 dimensions (96, so 96 bytes a vector, at dim 384). On the
# benchmark's clustered vectors (200k), re-ranking 10k PQ candidates found recall@10 0.90 with
# PQ48 and 0.985 with PQ96: PQ96 costs 48 more bytes a vector but needs 2.5x fewer candidates
# read back for the same recall, which is what counts once the stored vectors live on disk
DIMS_PER_SUBQUANTIZER = 4
PQ_NBITS = 8
NPROBE = 64  # of 2,048 cells at 1-2M: 32 gave recall@10 0.943, 64 gave 0.969 (benchmark)
K_FACTOR = 20  # PQ candidates re-ranked exactly: k * K_FACTOR (200 for k=10)
TRAIN_PER_CELL = 64  # k-means sample a cell (FAISS warns below 39)
KMEANS_NITER = 16  # FAISS's default is 25; recall hardly moves past ~15 and training is the cost
# PQ codebooks: FAISS trains m small k-means of 256 centroids on up to 65,536 points each, which
# costs more than the coarse k-means (27 s for PQ48 on 15k points, one core); 64 points a centroid and
# 10 iterations cut it ~6x, and the exact re-rank absorbs the small loss in code quality
PQ_POINTS_PER_CENTROID = 64
PQ_NITER = 10
MIN_TRAIN = 10_000  # PQ's 256 centroids a sub-quantizer want ~39 points each: below, stay exact
MANIFEST = "manifest.json"
FIELDS = {"format", "dim", "shard_size", "train_threshold", "nprobe", "k_factor", "m", "nbits",
          "rerank_dtype", "count", "max_id", "template", "shards"}  # fmt: skip


def nlist_for(n: int) -> int:
    """Cells: a power of two near 2*sqrt(n) at training time (2,048 at 1M: ~500 vectors a cell
    then). Cells grow with the corpus and a query's cost with them (docs/scale_index.md)."""
    return int(2 ** np.clip(round(np.log2(2 * np.sqrt(max(n, 1)))), 6, 16))


class _Store:
    """One shard's passage ids (sorted) and stored vectors, for the re-rank (and for exact
    search before training). Grows by doubling; a memory-mapped store is copied into memory
    on its first append."""

    def __init__(self, dim: int, dtype, limit: int, ids=None, vecs=None):
        self.ids = np.zeros(0, np.int64) if ids is None else ids
        self.vecs = np.zeros((0, dim), dtype) if vecs is None else vecs
        self.n, self.limit = len(self.ids), limit

    def append(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        need = self.n + len(ids)
        if need > len(self.ids) or isinstance(self.vecs, np.memmap):
            cap = max(need, min(max(2 * len(self.ids), 1024), self.limit))
            new_ids = np.empty(cap, np.int64)
            new_vecs = np.empty((cap, self.vecs.shape[1]), self.vecs.dtype)
            new_ids[: self.n], new_vecs[: self.n] = self.ids[: self.n], self.vecs[: self.n]
            self.ids, self.vecs = new_ids, new_vecs
        self.ids[self.n : need] = ids
        self.vecs[self.n : need] = vecs
        self.n = need

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.ids[: self.n], self.vecs[: self.n]


class ShardedIndex:
    def __init__(self, dim: int, shard_size: int = SHARD_SIZE,
                 train_threshold: int = TRAIN_THRESHOLD, nprobe: int = NPROBE,
                 k_factor: int = K_FACTOR, m: int | None = None, nbits: int = PQ_NBITS,
                 rerank_dtype: str = "float16", trained: bytes | None = None):  # fmt: skip
        m = m or dim // DIMS_PER_SUBQUANTIZER
        if dim % m:
            raise ValueError(f"PQ needs dim ({dim}) divisible by m ({m})")
        self.d, self.shard_size, self.train_threshold = dim, shard_size, train_threshold
        self.nprobe, self.k_factor, self.m, self.nbits = nprobe, k_factor, m, nbits
        self.rerank_dtype = np.dtype(rerank_dtype)
        self.max_id = -1
        self.stores: list[_Store] = []
        self.ivfs: list = []  # one trained IndexIVFPQ a shard, once trained
        self.files: list[dict | None] = []  # the files a shard was last saved to (None: dirty)
        self._template = None
        self._template_file: str | None = None  # where the trained index was last saved
        self._fanout = None
        if trained is not None:
            self._set_template(trained)

    # -- the contract ------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return sum(s.n for s in self.stores)

    def count(self) -> int:
        return self.ntotal

    @property
    def nlist(self) -> int:
        return int(self._template.nlist) if self._template is not None else 0

    @property
    def is_trained(self) -> bool:
        return self._template is not None

    def add_with_ids(self, vectors: np.ndarray, ids) -> None:  # FAISS's argument order
        self.add(ids, vectors)

    def add(self, ids, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.d or len(ids) != len(vectors):
            raise ValueError(
                f"need (n, {self.d}) vectors and n ids, got {vectors.shape}, {len(ids)}"
            )
        if len(ids) == 0:
            return
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], vectors[order]
        if ids[0] <= self.max_id or (np.diff(ids) == 0).any():
            raise ValueError(
                f"ids must be new and above every stored id ({self.max_id}): passage ids only "
                "grow, and the shards are id ranges; rebuild the index to insert older ids"
            )
        start = 0
        while start < len(ids):
            if not self.stores or self.stores[-1].n >= self.shard_size:
                self._new_shard()
            s = len(self.stores) - 1
            end = start + min(len(ids) - start, self.shard_size - self.stores[s].n)
            self.stores[s].append(ids[start:end], vectors[start:end])
            if self.ivfs:
                self.ivfs[s].add_with_ids(vectors[start:end], ids[start:end])
            self.files[s] = None
            start = end
        self.max_id = int(ids[-1])
        if self._template is None and self.ntotal >= max(self.train_threshold, MIN_TRAIN):
            self.train()
        elif self._fanout is not None:
            self._fanout.syncWithSubIndexes()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k'); k' = min(k, count); missing slots have id -1.
        Scores are exact inner products with the stored vectors (cosines)."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = self.ntotal
        if n == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        k = max(1, min(k, n))
        if self._fanout is None:
            return self._exact(q, k)
        _, candidates = self._fanout.search(q, min(n, k * self.k_factor))
        # re-rank 256 queries at a time: the gathered candidates of 1,000 queries at k_factor 50
        # would hold 0.8 GB of float32 at once
        parts = [self._rerank(q[i : i + 256], candidates[i : i + 256], k)
                 for i in range(0, len(q), 256)]  # fmt: skip
        return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])

    def train(self) -> None:
        """Train coarse centroids and PQ codebooks on a sample of what is stored, then file
        every stored vector into per-shard copies of the trained index (once)."""
        import faiss

        n = self.ntotal
        nlist = nlist_for(n)
        sample = np.sort(np.random.default_rng(0).choice(n, min(n, nlist * TRAIN_PER_CELL), False))
        template = faiss.IndexIVFPQ(faiss.IndexFlatIP(self.d), self.d, nlist, self.m,
                                    self.nbits, faiss.METRIC_INNER_PRODUCT)  # fmt: skip
        template.cp.niter = KMEANS_NITER
        template.pq.cp.niter = PQ_NITER
        template.pq.cp.max_points_per_centroid = PQ_POINTS_PER_CENTROID
        template.train(self._rows(sample))
        self._set_template(template)

    def tune(self, nprobe: int | None = None, k_factor: int | None = None) -> None:
        """Change the search's cells probed and candidates re-ranked (recall against time)."""
        self.k_factor = k_factor or self.k_factor
        if nprobe:
            self.nprobe = min(nprobe, self.nlist) if self.nlist else nprobe
        for ivf in self.ivfs:
            ivf.nprobe = self.nprobe

    def trained(self) -> bytes:
        """The trained, empty index (serialised): another ShardedIndex built with
        `trained=` shares its cells and codebooks, so both file vectors alike."""
        import faiss

        if self._template is None:
            raise ValueError("not trained yet")
        return faiss.serialize_index(self._template).tobytes()

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write changed shards under new names, then the manifest (the commit point), then
        remove files the manifest no longer names; a crash leaves the previous manifest and
        its files intact."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        template = self._template_file
        if self._template is not None and not (template and (directory / template).exists()):
            template = f"trained-{uuid.uuid4().hex[:8]}.faiss"
            faiss.write_index(self._template, str(directory / template))
            self._template_file = template
        for s, store in enumerate(self.stores):
            if self.files[s] is not None and (directory / self.files[s]["ids"]).exists():
                continue
            tag = f"shard-{s:04d}-{uuid.uuid4().hex[:8]}"
            ids, vecs = store.view()
            files = {"ids": f"{tag}.ids.npy", "vecs": f"{tag}.vecs.npy", "ivf": None}
            np.save(directory / files["ids"], ids)
            np.save(directory / files["vecs"], vecs)
            if self.ivfs:
                files["ivf"] = f"{tag}.ivfpq"
                faiss.write_index(self.ivfs[s], str(directory / files["ivf"]))
            self.files[s] = files
        manifest = {
            "format": FORMAT_VERSION, "dim": self.d, "shard_size": self.shard_size,
            "train_threshold": self.train_threshold, "nprobe": self.nprobe,
            "k_factor": self.k_factor, "m": self.m, "nbits": self.nbits, "nlist": self.nlist,
            "rerank_dtype": self.rerank_dtype.name, "count": self.ntotal, "max_id": self.max_id,
            "template": self._template_file if self._template is not None else None,
            "shards": [dict(f, count=st.n) for f, st in zip(self.files, self.stores, strict=True)],
        }  # fmt: skip
        tmp = directory / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.replace(tmp, directory / MANIFEST)
        keep = {MANIFEST, manifest["template"]} | {
            f for sh in manifest["shards"] for f in (sh["ids"], sh["vecs"], sh["ivf"])
        }
        for f in directory.iterdir():
            if f.name not in keep:
                f.unlink()
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, mmap: bool = True) -> ShardedIndex:
        """`mmap`: map the stored vectors instead of reading them (a query touches only its
        candidates' rows); the PQ cells are read into memory."""
        import faiss

        directory = Path(directory)
        meta = _read_manifest(directory)
        obj = cls(meta["dim"], meta["shard_size"], meta["train_threshold"], meta["nprobe"],
                  meta["k_factor"], meta["m"], meta["nbits"], meta["rerank_dtype"])  # fmt: skip
        try:
            for sh in meta["shards"]:
                ids = np.load(directory / sh["ids"], mmap_mode="r" if mmap else None)
                vecs = np.load(directory / sh["vecs"], mmap_mode="r" if mmap else None)
                if len(ids) != sh["count"] or vecs.shape != (sh["count"], obj.d):
                    raise IndexDamaged(
                        f"shard {sh['ids']} holds {len(ids)} vectors, not {sh['count']}"
                    )
                obj.stores.append(_Store(obj.d, obj.rerank_dtype, obj.shard_size, ids, vecs))
                obj.files.append({k: sh[k] for k in ("ids", "vecs", "ivf")})
                if sh["ivf"]:
                    obj.ivfs.append(faiss.read_index(str(directory / sh["ivf"])))
            if meta["template"]:
                obj._set_template(faiss.read_index(str(directory / meta["template"])))
                obj._template_file = meta["template"]
        except (OSError, ValueError, RuntimeError) as exc:  # missing, cut short, not FAISS
            raise IndexDamaged(f"sharded index {directory} cannot be read ({exc})") from exc
        obj.max_id = meta["max_id"]
        if obj.ntotal != meta["count"] or (obj._template is not None) != bool(obj.ivfs):
            raise IndexDamaged(f"sharded index {directory} is out of step with its manifest")
        return obj

    def memory_bytes(self) -> dict:
        """What each part holds: PQ codes and ids in the cells, the stored vectors and their ids
        (on disk, mapped, when loaded with mmap), and the coarse centroids (once a shard)."""
        code = self.m * self.nbits // 8
        n = self.ntotal
        return {
            "cells": n * (code + 8) if self.ivfs else 0,
            "stored_vectors": n * self.d * self.rerank_dtype.itemsize,
            "stored_ids": n * 8,
            "centroids": len(self.ivfs) * self.nlist * self.d * 4,
        }

    # -- inside ------------------------------------------------------------------------------
    def _new_shard(self) -> None:
        import faiss

        self.stores.append(_Store(self.d, self.rerank_dtype, self.shard_size))
        self.files.append(None)
        if self._template is not None:
            self.ivfs.append(faiss.clone_index(self._template))
            self.ivfs[-1].nprobe = self.nprobe
            self._fanout.add_shard(self.ivfs[-1])

    def _set_template(self, trained) -> None:
        """Adopt a trained empty index; file the stored vectors into per-shard copies of it."""
        import faiss

        if isinstance(trained, bytes | bytearray | np.ndarray):
            trained = faiss.deserialize_index(np.frombuffer(trained, np.uint8))
        self._template = trained
        nlist = int(trained.nlist)
        # the fan-out does not own its quantizer: keep a reference, or Python frees it
        self._quantizer = faiss.clone_index(trained.quantizer)
        self._fanout = faiss.IndexShardsIVF(self._quantizer, nlist, True, False)  # threaded,
        # and the caller's ids (not successive ones)
        self._fanout.metric_type = faiss.METRIC_INNER_PRODUCT
        have = len(self.ivfs)  # loaded shards come with their cells filled
        for s, store in enumerate(self.stores):
            if s >= have:
                ivf = faiss.clone_index(trained)
                ids, vecs = store.view()
                for i in range(0, len(ids), 100_000):
                    ivf.add_with_ids(
                        np.asarray(vecs[i : i + 100_000], np.float32), ids[i : i + 100_000]
                    )
                self.ivfs.append(ivf)
                self.files[s] = None
            self.ivfs[s].nprobe = self.nprobe
            self._fanout.add_shard(self.ivfs[s])
        self._fanout.syncWithSubIndexes()

    def _locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard, row) of stored ids: shards are id ranges, each sorted."""
        lows = np.array([st.ids[0] for st in self.stores], np.int64)
        shard = np.searchsorted(lows, ids, side="right") - 1
        row = np.zeros(len(ids), np.int64)
        for s in np.unique(shard):
            sel = shard == s
            row[sel] = np.searchsorted(self.stores[s].view()[0], ids[sel])
        return shard, row

    def _rows(self, positions: np.ndarray) -> np.ndarray:
        """Stored vectors at global positions (shard after shard), as float32."""
        bounds = np.cumsum([0] + [st.n for st in self.stores])
        out = np.empty((len(positions), self.d), np.float32)
        for s, st in enumerate(self.stores):
            sel = (positions >= bounds[s]) & (positions < bounds[s + 1])
            out[sel] = st.vecs[positions[sel] - bounds[s]]
        return out

    def _rerank(self, q: np.ndarray, candidates: np.ndarray, k: int):
        nq, kc = candidates.shape
        flat = candidates.ravel()
        valid = flat >= 0
        vecs = np.zeros((len(flat), self.d), np.float32)
        shard, row = self._locate(flat[valid])
        where = np.flatnonzero(valid)
        for s in np.unique(shard):
            sel = shard == s
            vecs[where[sel]] = self.stores[s].vecs[row[sel]]
        scores = np.einsum("qkd,qd->qk", vecs.reshape(nq, kc, self.d), q)
        scores[~valid.reshape(nq, kc)] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, order, 1)
        ids = np.where(np.isfinite(top), np.take_along_axis(candidates, order, 1), -1)
        return top.astype(np.float32), ids

    def _exact(self, q: np.ndarray, k: int):
        """Before training: every stored vector, scored in blocks."""
        best_s = np.full((len(q), 0), -np.inf, np.float32)
        best_i = np.zeros((len(q), 0), np.int64)
        for st in self.stores:
            ids, vecs = st.view()
            for i in range(0, len(ids), 200_000):
                s = q @ np.asarray(vecs[i : i + 200_000], np.float32).T
                best_s = np.hstack([best_s, s])
                best_i = np.hstack([best_i, np.broadcast_to(ids[i : i + 200_000], s.shape)])
                order = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
                best_s = np.take_along_axis(best_s, order, 1)
                best_i = np.take_along_axis(best_i, order, 1)
        return best_s, best_i


def _read_manifest(directory: Path) -> dict:
    try:
        meta = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexDamaged(f"sharded index manifest in {directory} is unreadable ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise IndexDamaged(f"sharded index {directory} has another format ({meta!r:.80})")
    if FIELDS - set(meta):
        raise IndexDamaged(
            f"sharded index manifest in {directory} lacks {sorted(FIELDS - set(meta))}"
        )
    return meta
