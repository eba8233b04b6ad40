"""Consensus spherical k-means (FAISS) over unit vectors, and centring by language.

The clusters are the consensus of many k-means runs over a range of k (what stays together
across runs), so no single seed or k decides them. Vectors are centred per language first: e5
vectors share a large common direction, and each language one of its own, which would
otherwise dominate every cosine and group passages by language. Pure numpy/FAISS: no tables.
"""

from __future__ import annotations

import math

import numpy as np

from narratives.core.settings import ClusteringSettings


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def spherical_kmeans(x: np.ndarray, k: int, p: ClusteringSettings) -> tuple[np.ndarray, np.ndarray]:
    """(assignment, centroids) of spherical k-means with FAISS."""
    import faiss

    km = faiss.Kmeans(
        x.shape[1], k, niter=p.niter, nredo=p.nredo, spherical=True, seed=p.seed,
        verbose=False, min_points_per_centroid=1, max_points_per_centroid=100_000,
    )  # fmt: skip
    km.train(np.ascontiguousarray(x))
    _, assign = km.index.search(np.ascontiguousarray(x), 1)
    return assign[:, 0], km.centroids


def k_range(n: int, p: ClusteringSettings) -> list[int]:
    lo = p.k_min or max(2, int(math.sqrt(n / 2)))
    hi = p.k_max or max(lo, int(2 * math.sqrt(n)))
    # no more clusters than could each reach min_size: else a small window yields only tiny ones
    hi = min(hi, n - 1, max(2, n // p.min_size))
    lo = min(lo, hi)
    return list(range(lo, hi + 1, p.k_step)) if lo <= hi else []


def choose_k(x: np.ndarray, p: ClusteringSettings) -> tuple[int, dict[int, float], np.ndarray]:
    """The k (and seed) with the best cosine silhouette over `k_range` x `seeds_per_k` runs,
    the best score of each k, and the winning assignment. Several seeds per k: on a flat
    objective one k-means run's luck would otherwise decide which k wins."""
    from sklearn.metrics import silhouette_score

    sample = min(len(x), p.silhouette_sample)  # silhouette is O(n^2): measure on a sample
    scores: dict[int, float] = {}
    best = None
    for k in k_range(len(x), p):
        for offset in range(p.seeds_per_k):
            assign, _ = spherical_kmeans(x, k, p.model_copy(update={"seed": p.seed + offset}))
            if len(set(assign.tolist())) < 2:
                continue
            score = float(silhouette_score(x, assign, metric="cosine", sample_size=sample,
                                           random_state=p.seed))  # fmt: skip
            scores[k] = max(scores.get(k, -1.0), score)
            if best is None or score > best[0]:
                best = (score, k, assign)
    if best is None:
        raise ValueError(f"{len(x)} passages are too few to cluster; widen the window")
    return best[1], scores, best[2]


def consensus(
    x: np.ndarray, p: ClusteringSettings
) -> tuple[np.ndarray, dict[int, float], np.ndarray]:
    """(assignment, silhouette of one run per k, co-association matrix) of consensus
    clustering: many spherical k-means runs over `k_range`, then average linkage over how
    often two passages were put together, cut where they were together in fewer than
    `consensus_min` of the runs. The number of clusters is what stays together across runs
    (a stability criterion), not one k."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_score

    n = len(x)
    ks = k_range(n, p)
    if not ks:
        raise ValueError(f"{n} passages are too few to cluster; widen the window")
    together = np.zeros((n, n), np.float32)
    runs = 0
    scores: dict[int, float] = {}
    for k in ks:
        for r in range(p.consensus_runs):
            seed = p.seed * 100_003 + k * 101 + r  # different for every run and every `seed`
            assign, _ = spherical_kmeans(x, k, p.model_copy(update={"seed": seed, "nredo": 1}))
            together += assign[:, None] == assign[None, :]
            runs += 1
            if r == 0 and len(set(assign.tolist())) > 1:
                scores[k] = float(silhouette_score(
                    x, assign, metric="cosine",
                    sample_size=min(n, p.silhouette_sample), random_state=p.seed))  # fmt: skip
    together /= runs
    apart = 1.0 - together
    np.fill_diagonal(apart, 0.0)
    tree = linkage(squareform(apart, checks=False), method="average")
    labels = fcluster(tree, t=1.0 - p.consensus_min, criterion="distance") - 1
    return labels.astype(np.int64), scores, together


def centre(vectors: np.ndarray, langs: np.ndarray, how: str) -> np.ndarray:
    """Unit vectors with the shared direction removed: one mean for all ("all"), or each
    language's own mean ("language"), since e5 vectors of one language share a direction of
    their own and would otherwise cluster partly by language."""
    if how == "all":
        return unit(vectors - vectors.mean(axis=0))
    if how != "language":
        raise ValueError(f"centring must be 'language' or 'all', not {how!r}")
    out = np.empty_like(vectors)
    for lang in set(langs.tolist()):
        rows = langs == lang
        out[rows] = vectors[rows] - vectors[rows].mean(axis=0)
    return unit(out)
