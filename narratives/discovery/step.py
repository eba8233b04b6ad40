"""The cluster step: cluster a window of stored passages (all of them, and the residual that no
seeded narrative claims), describe each cluster kept and store it. Each cluster is described by
its size per language and outlet (the `cluster_sizes` view), key terms per language, its most
central and typical passages per language, and the seeded narrative nearest its centroid:
`matches <narrative>` when enough of its passages are confirmed for it, else `emerging`."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import numpy as np

from narratives.core import runs
from narratives.core.langs import TRACKED
from narratives.core.settings import ClusteringSettings, Settings
from narratives.core.store import transaction, writer
from narratives.discovery.kmeans import centre, choose_k, consensus, unit
from narratives.discovery.terms import key_terms
from narratives.discovery.window import Window, confirmed_for, exemplar_vectors, load_window
from narratives.matching.queries import live_set

log = logging.getLogger("narratives.discovery")


def cluster_step(settings: Settings, run_id: int, *, start=None, end=None,
                 scopes=("all", "residual"), params=None) -> dict:  # fmt: skip
    started = time.perf_counter()
    params = params or settings.clustering
    out = {}
    with writer(settings.database, settings.lock_wait_s) as con:
        for scope in scopes:
            try:
                out[scope] = discover(
                    con, start=start, end=end, scope=scope, run_id=run_id, params=params
                )
            except ValueError as exc:
                if scope == "all":
                    raise
                # a small residual is good news, not a failure
                log.info("discover %s: skipped (%s)", scope, exc)
                out[scope] = {"skipped": str(exc)}
        counts = {f"clusters_{scope}": s.get("clusters", 0) for scope, s in out.items()} | {
            f"emerging_{scope}": s.get("emerging", 0) for scope, s in out.items()
        }
        runs.update_run(
            con, run_id, counts=counts, timings={"cluster_s": time.perf_counter() - started},
            components={"clustering": "faiss-spherical-kmeans", "k_choice": "consensus",
                        "centring": params.centring},
            parameters={"clustering": params.model_dump()},
        )  # fmt: skip
    return out


def discover(con, *, start=None, end=None, scope: str = "all", run_id: int | None = None,
             params: ClusteringSettings | None = None) -> dict:  # fmt: skip
    """Cluster one window and store the clusters kept. Returns a summary for the run record."""
    p = params or ClusteringSettings()
    set_id, version, model_id = live_set(con)
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
    confirmed = confirmed_for(con, w.passage_ids)
    terms_by_lang = {
        lang: key_terms([w.texts[i] for i in idx], assign[idx], p.terms)
        for lang in TRACKED
        if len(idx := np.flatnonzero(w.langs == lang))
    }
    kept, dropped = [], Counter()
    for c in range(k):
        members = np.flatnonzero(assign == c)
        if len(members) < p.min_size:
            dropped["tiny"] += len(members) > 0
            continue
        centroid = unit(centred[members].mean(axis=0, keepdims=True))[0]
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
             k, json.dumps(k_scores), json.dumps(p.model_dump())],
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
              terms_by_lang, p: ClusteringSettings) -> dict:  # fmt: skip
    # the nearest narrative is judged in the model's own space, where thresholds live
    raw_centroid = unit(w.vectors[members].mean(axis=0, keepdims=True))[0]
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
    for lang in TRACKED:
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
