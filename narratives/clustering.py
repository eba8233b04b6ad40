"""Finding what the seeded narratives miss: spherical k-means over stored passage vectors.

A window of passages (all of them, or the residual that no seeded narrative confirmed or
suggested) is clustered with faiss.Kmeans (spherical: centroids on the unit sphere, so the
assignment is by cosine). The vectors are centred per language first: e5 vectors share a large
common direction, and each language one of its own, which would otherwise dominate every cosine
and group passages by language. The clusters are the consensus of many k-means runs over a
range of k (what stays together across runs), so no single seed or k decides them; tiny or
incoherent clusters are dropped. Each cluster kept is described by its size per language and
outlet (the `cluster_sizes` view), key terms per language (class-based TF-IDF), its most central
and typical passages per language, and the seeded narrative nearest its centroid: `matches
<narrative>` when enough of its passages are confirmed for it, else `emerging`.

Nothing is embedded here: passages and exemplars are read from the vector cache, so
discovery is cheap to repeat and never needs the model.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from embeddings import cache
from embeddings.base import text_hash
from narratives.matching import EXEMPLAR_ROLE
from narratives.store import fetch_arrow, transaction

log = logging.getLogger("narratives.clustering")

LANGS = ("en", "ru", "uk")
SCOPES = ("all", "residual")


@dataclass(frozen=True)
class ClusterParams:
    min_size: int = 5  # fewer passages than this: dropped as tiny
    min_coherence: float = 0.15  # mean cosine to centroid in centred space below this: dropped
    k_min: int | None = None  # default: sqrt(n / 2)
    k_max: int | None = None  # default: 2 sqrt(n)
    k_step: int = 2
    seed: int = 3
    niter: int = 30
    nredo: int = 5  # k-means restarts per run; faiss keeps the lowest objective
    seeds_per_k: int = 1  # runs per k for the silhouette choice (the fallback above max_consensus)
    # consensus: k-means is run `consensus_runs` times for every k of `k_range` (one restart
    # each, seeds derived from `seed`); two passages belong together when they share a cluster
    # in at least `consensus_min` of all runs (average linkage over the co-association matrix).
    # One run's luck, and the choice of one k, no longer decide the clusters.
    consensus_runs: int = 4
    consensus_min: float = 0.5
    max_consensus: int = 8000  # the co-association matrix is n x n: above this, silhouette k
    centring: str = "language"  # "language": each language's mean removed; "all": one mean
    silhouette_sample: int = 5000
    representatives: int = 3  # passages nearest the centroid, per language
    terms: int = 8  # key terms per language
    # `matches` when at least this share of members is confirmed for the nearest narrative:
    # centroid cosines are inflated by averaging (0.85-0.93 on the demo for every cluster) and
    # do not separate known from new on their own
    match_confirmed_share: float = 0.4


@dataclass
class Window:
    passage_ids: np.ndarray
    document_ids: np.ndarray
    langs: np.ndarray
    days: list[dt.date]
    texts: list[str]
    vectors: np.ndarray  # unit vectors, as stored


def live_matching(con) -> tuple[str, str, str]:
    rows = con.execute(
        "SELECT set_id, set_version, model_id FROM matchings ORDER BY updated_at DESC"
    ).fetchall()
    if not rows:
        raise LookupError("nothing has been matched yet; run `narratives run` first")
    return rows[0]


def load_window(con, model_id: str, start=None, end=None, scope: str = "all") -> Window:
    """Stored passages published in [start, end] with their vectors; for scope `residual`, only
    those no live narrative confirmed or suggested."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    residual = (
        "AND NOT EXISTS (SELECT 1 FROM live_matches m WHERE m.passage_id = f.passage_id "
        "AND m.decision IN ('confirmed', 'suggested'))"
        if scope == "residual"
        else ""
    )
    table = fetch_arrow(
        con,
        f"""SELECT f.passage_id, f.document_id, f.lang, f.day, p.text, e.vector
        FROM passage_facts f JOIN passages p ON p.id = f.passage_id
        JOIN embeddings e ON e.text_hash = p.text_hash AND e.model_id = $1
        WHERE ($2::DATE IS NULL OR f.day >= $2) AND ($3::DATE IS NULL OR f.day <= $3) {residual}
        -- a reprinted passage is one passage (its first publication), not one per reprint
        QUALIFY row_number() OVER (PARTITION BY f.passage_id ORDER BY f.day, f.document_id) = 1
        ORDER BY f.passage_id""",
        [model_id, start, end],
    )
    vectors = cache.vectors_from_arrow(table.column("vector")) if table.num_rows else None
    return Window(
        passage_ids=table.column("passage_id").to_numpy(),
        document_ids=table.column("document_id").to_numpy(),
        langs=np.array(table.column("lang").to_pylist(), dtype=object),
        days=table.column("day").to_pylist(),
        texts=table.column("text").to_pylist(),
        vectors=_unit(vectors) if vectors is not None else np.zeros((0, 0), np.float32),
    )


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def spherical_kmeans(x: np.ndarray, k: int, p: ClusterParams) -> tuple[np.ndarray, np.ndarray]:
    """(assignment, centroids) of spherical k-means with FAISS."""
    import faiss

    km = faiss.Kmeans(
        x.shape[1], k, niter=p.niter, nredo=p.nredo, spherical=True, seed=p.seed,
        verbose=False, min_points_per_centroid=1, max_points_per_centroid=100_000,
    )  # fmt: skip
    km.train(np.ascontiguousarray(x))
    _, assign = km.index.search(np.ascontiguousarray(x), 1)
    return assign[:, 0], km.centroids


def k_range(n: int, p: ClusterParams) -> list[int]:
    lo = p.k_min or max(2, int(math.sqrt(n / 2)))
    hi = p.k_max or max(lo, int(2 * math.sqrt(n)))
    # no more clusters than could each reach min_size: else a small window yields only tiny ones
    hi = min(hi, n - 1, max(2, n // p.min_size))
    lo = min(lo, hi)
    return list(range(lo, hi + 1, p.k_step)) if lo <= hi else []


def choose_k(x: np.ndarray, p: ClusterParams) -> tuple[int, dict[int, float], np.ndarray]:
    """The k (and seed) with the best cosine silhouette over `k_range` x `seeds_per_k` runs,
    the best score of each k, and the winning assignment. Several seeds per k: on a flat
    objective one k-means run's luck would otherwise decide which k wins."""
    from sklearn.metrics import silhouette_score

    sample = min(len(x), p.silhouette_sample)  # silhouette is O(n^2): measure on a sample
    scores: dict[int, float] = {}
    best = None
    for k in k_range(len(x), p):
        for offset in range(p.seeds_per_k):
            assign, _ = spherical_kmeans(x, k, dataclasses.replace(p, seed=p.seed + offset))
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


def consensus(x: np.ndarray, p: ClusterParams) -> tuple[np.ndarray, dict[int, float], np.ndarray]:
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
            assign, _ = spherical_kmeans(x, k, dataclasses.replace(p, seed=seed, nredo=1))
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
        return _unit(vectors - vectors.mean(axis=0))
    if how != "language":
        raise ValueError(f"centring must be 'language' or 'all', not {how!r}")
    out = np.empty_like(vectors)
    for lang in set(langs.tolist()):
        rows = langs == lang
        out[rows] = vectors[rows] - vectors[rows].mean(axis=0)
    return _unit(out)


# --- describing clusters ------------------------------------------------------------------
_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def key_terms(texts: list[str], labels: np.ndarray, top: int) -> dict[int, list[tuple[str, float]]]:
    """Class-based TF-IDF: each cluster's passages form one document; a term scores by its
    frequency in the cluster times log(1 + average class size / its frequency in all classes),
    so words common to every cluster (function words in any language) sink."""
    from sklearn.feature_extraction.text import CountVectorizer

    classes = sorted(set(labels.tolist()))
    docs = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == c) for c in classes]
    try:
        # a word in most clusters of a language is a function word there: no stop lists needed
        # (with 2-3 clusters: a word in all of them)
        max_df = 0.5 if len(docs) >= 4 else max(1, len(docs) - 1) if len(docs) > 1 else 1.0
        counts = CountVectorizer(token_pattern=_TOKEN.pattern, max_df=max_df).fit(docs)
    except ValueError:  # no term at all
        return {c: [] for c in classes}
    tf = counts.transform(docs).toarray().astype(np.float64)
    vocab = counts.get_feature_names_out()
    per_class = tf.sum(axis=1, keepdims=True)
    avg = per_class.mean()
    weights = (tf / np.maximum(per_class, 1)) * np.log1p(avg / np.maximum(tf.sum(axis=0), 1))
    out = {}
    for row, c in enumerate(classes):
        order = np.argsort(-weights[row])[:top]
        out[c] = [(str(vocab[j]), float(weights[row, j])) for j in order if tf[row, j] > 0]
    return out


def exemplar_vectors(con, set_id: str, version: str, model_id: str):
    """(narrative ids, vectors, thresholds) of a stored set version's exemplars and
    descriptions, from the vector cache: the match step embedded them under EXEMPLAR_ROLE."""
    rows = con.execute(
        "SELECT narrative_id, text FROM exemplars WHERE set_id = ? AND set_version = ? "
        "UNION ALL SELECT narrative_id, description FROM narratives WHERE set_id = ? AND set_version = ?",
        [set_id, version, set_id, version],
    ).fetchall()
    thresholds = dict(con.execute(
        "SELECT narrative_id, threshold FROM narratives WHERE set_id = ? AND set_version = ?",
        [set_id, version],
    ).fetchall())  # fmt: skip
    hashes = [text_hash(t, EXEMPLAR_ROLE) for _, t in rows]
    have = set(hashes) - set(cache.missing_hashes(con, model_id, hashes))
    kept = [(nid, h) for (nid, _), h in zip(rows, hashes, strict=True) if h in have]
    if not kept:
        return [], np.zeros((0, 0), np.float32), thresholds
    vectors = _unit(cache.get(con, model_id, [h for _, h in kept]))
    return [nid for nid, _ in kept], vectors, thresholds


def _confirmed_for(con, passage_ids: np.ndarray) -> dict[int, set[str]]:
    con.register("_ids", {"passage_id": passage_ids.astype(np.int64)})
    try:
        rows = con.execute(
            "SELECT m.passage_id, list(DISTINCT m.narrative_id) FROM live_matches m "
            "JOIN _ids USING (passage_id) WHERE m.decision = 'confirmed' GROUP BY 1"
        ).fetchall()
    finally:
        con.unregister("_ids")
    return {int(pid): set(nids) for pid, nids in rows}


# --- the whole step ---------------------------------------------------------------------------
def discover(con, *, start=None, end=None, scope: str = "all", run_id: int | None = None,
             params: ClusterParams | None = None) -> dict:  # fmt: skip
    """Cluster one window and store the clusters kept. Returns a summary for the run record."""
    p = params or ClusterParams()
    set_id, version, model_id = live_matching(con)
    w = load_window(con, model_id, start, end, scope)
    n = len(w.passage_ids)
    if n < 2 * p.min_size:
        raise ValueError(
            f"{n} passages in the window ({scope}); clustering needs at least {2 * p.min_size}: "
            "widen the window (--start/--end) or ingest more"
        )
    centred = centre(w.vectors, w.langs, p.centring)
    if n <= p.max_consensus:
        assign, k_scores, together = consensus(centred, p)
        k = int(assign.max()) + 1
    else:  # too many passages for an n x n matrix: the silhouette's best single k
        k, k_scores, assign = choose_k(centred, p)
        together = None
    nids, bank, thresholds = exemplar_vectors(con, set_id, version, model_id)
    confirmed = _confirmed_for(con, w.passage_ids)
    terms_by_lang = {
        lang: key_terms([w.texts[i] for i in idx], assign[idx], p.terms)
        for lang in LANGS
        if len(idx := np.flatnonzero(w.langs == lang))
    }
    kept, dropped = [], Counter()
    for c in range(k):
        members = np.flatnonzero(assign == c)
        if len(members) < p.min_size:
            dropped["tiny"] += len(members) > 0
            continue
        centroid = _unit(centred[members].mean(axis=0, keepdims=True))[0]
        sims = centred[members] @ centroid
        coherence = float(sims.mean())
        if coherence < p.min_coherence:
            dropped["incoherent"] += 1
            continue
        # typical: how often a member was put with the others across the consensus runs
        typical = (together[np.ix_(members, members)].mean(axis=1) if together is not None
                   else np.ones(len(members)))  # fmt: skip
        kept.append(_describe(c, members, sims, typical, coherence, w, nids, bank,
                              confirmed, terms_by_lang, p))  # fmt: skip
    with transaction(con):
        clustering_id = con.execute(
            "INSERT INTO clusterings (run_id, model_id, set_id, set_version, scope, window_start, "
            "window_end, passages, k, k_scores, parameters) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            [run_id, model_id, set_id, version, scope, start or min(w.days), end or max(w.days), n,
             k, json.dumps(k_scores), json.dumps(asdict(p))],
        ).fetchall()[0][0]  # fmt: skip
        ids = [_store(con, clustering_id, c) for c in kept]
    summary = {
        "clustering_id": clustering_id, "scope": scope, "passages": n, "k": k,
        "clusters": len(kept), "emerging": sum(c["status"] == "emerging" for c in kept),
        "dropped_tiny": dropped["tiny"], "dropped_incoherent": dropped["incoherent"],
        "cluster_ids": ids,
    }  # fmt: skip
    log.info("discover %s: %d passages, k=%d, %d clusters kept (%d emerging)", scope, n, k,
             summary["clusters"], summary["emerging"])  # fmt: skip
    return summary


def _describe(c, members, sims, typical, coherence, w: Window, nids, bank, confirmed,
              terms_by_lang, p: ClusterParams) -> dict:  # fmt: skip
    # the nearest narrative is judged in the model's own space, where thresholds live
    raw_centroid = _unit(w.vectors[members].mean(axis=0, keepdims=True))[0]
    nearest, similarity, share = None, None, 0.0
    if len(nids):
        by_row = bank @ raw_centroid
        best = {}
        for nid, s in zip(nids, by_row, strict=True):
            best[nid] = max(best.get(nid, -1.0), float(s))
        nearest = max(best, key=best.get)
        similarity = best[nearest]
        pids = w.passage_ids[members]
        share = float(np.mean([nearest in confirmed.get(int(pid), ()) for pid in pids]))
    matches = nearest is not None and share >= p.match_confirmed_share
    reps = []
    for lang in LANGS:
        in_lang = np.flatnonzero(w.langs[members] == lang)
        # representatives: near the centroid AND always in this cluster, not a passage that
        # sits between two clusters and joined this one by a run's luck
        rank = sims[in_lang] + typical[in_lang]
        order = in_lang[np.argsort(-rank, kind="stable")][: p.representatives]
        reps += [(lang, r + 1, int(w.passage_ids[members[i]]), float(sims[i]))
                 for r, i in enumerate(order)]  # fmt: skip
    terms = [(lang, r + 1, t, wgt) for lang, by_c in terms_by_lang.items()
             for r, (t, wgt) in enumerate(by_c.get(c, []))]  # fmt: skip
    days = [w.days[i] for i in members]
    return {
        "size": len(members), "documents": len(set(w.document_ids[members].tolist())),
        "coherence": coherence, "nearest": nearest, "similarity": similarity,
        "confirmed_share": share, "status": "matches" if matches else "emerging",
        "first_day": min(days), "last_day": max(days),
        "members": list(zip(w.passage_ids[members].tolist(), sims.tolist(), strict=True)),
        "reps": reps, "terms": terms,
    }  # fmt: skip


def _store(con, clustering_id: int, c: dict) -> int:
    cid = con.execute(
        "INSERT INTO clusters (clustering_id, size, documents, coherence, nearest_narrative, "
        "nearest_similarity, confirmed_share, status, first_day, last_day) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [clustering_id, c["size"], c["documents"], c["coherence"], c["nearest"], c["similarity"],
         c["confirmed_share"], c["status"], c["first_day"], c["last_day"]],
    ).fetchall()[0][0]  # fmt: skip
    con.executemany(
        "INSERT INTO cluster_members VALUES (?, ?, ?)", [(cid, pid, s) for pid, s in c["members"]]
    )
    if c["reps"]:
        con.executemany(
            "INSERT INTO cluster_representatives VALUES (?, ?, ?, ?, ?)",
            [(cid, *r) for r in c["reps"]],
        )
    if c["terms"]:
        con.executemany(
            "INSERT INTO cluster_terms VALUES (?, ?, ?, ?, ?)", [(cid, *t) for t in c["terms"]]
        )
    return cid
