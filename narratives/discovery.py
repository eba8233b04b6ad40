"""The discovery steps (clustering, alerts) as plain functions over Settings, like
`narratives.pipeline`'s, plus reading clusters back and promoting one to a narrative.

Each step opens the database for writing for its own duration and records what it did in the
run's row; the Prefect flow in `flows/discover.py` and the CLI are thin layers over them.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from pathlib import Path

from narratives import analytics, clustering, runs
from narratives.definitions import Narrative, NarrativeSet, dump_set, load_set
from narratives.settings import Settings
from narratives.store import writer

log = logging.getLogger("narratives.discovery")


def cluster_step(settings: Settings, run_id: int, *, start=None, end=None,
                 scopes=("all", "residual"), params=None) -> dict:  # fmt: skip
    started = time.perf_counter()
    out = {}
    with writer(settings.database, settings.lock_wait_s) as con:
        for scope in scopes:
            try:
                out[scope] = clustering.discover(
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
                        "centring": (params or clustering.ClusterParams()).centring},
            parameters={"clustering": dataclasses.asdict(params or clustering.ClusterParams())},
        )  # fmt: skip
    return out


def alerts_step(settings: Settings, run_id: int, params=None) -> dict:
    started = time.perf_counter()
    params = params or analytics.AlertParams()
    with writer(settings.database, settings.lock_wait_s) as con:
        found = analytics.find_alerts(con, "narrative", params)
        # clusters of the latest clustering only: older ones are superseded
        latest = con.execute("SELECT max(id) FROM clusterings WHERE scope = 'all'").fetchall()[0][0]
        if latest is not None:
            ids = {str(r[0]) for r in con.execute(
                "SELECT id FROM clusters WHERE clustering_id = ?", [latest]).fetchall()}  # fmt: skip
            found += [a for a in analytics.find_alerts(con, "cluster", params)
                      if a["subject_id"] in ids]  # fmt: skip
        new = analytics.store_alerts(con, found, run_id)
        runs.update_run(
            con, run_id, counts={"alerts_found": len(found), "alerts_new": new},
            timings={"alerts_s": time.perf_counter() - started},
            parameters={"alerts": dataclasses.asdict(params) | {"test": params.test}},
        )  # fmt: skip
    return {"alerts_found": len(found), "alerts_new": new}


def run_discover(settings: Settings, **kwargs) -> dict:
    """Clustering then alerts under one run record, without Prefect."""
    from narratives.pipeline import begin, finish

    run_id = begin(settings, "discover")
    try:
        cluster_step(settings, run_id, **kwargs)
        alerts_step(settings, run_id)
    except BaseException as exc:
        finish(settings, run_id, exc)
        raise
    return finish(settings, run_id)


# --- reading clusters ----------------------------------------------------------------------
def list_clusters(
    con, clustering_id: int | None = None, scope: str = "all"
) -> tuple[int, list[tuple]]:
    if clustering_id is None:
        clustering_id = con.execute(
            "SELECT max(id) FROM clusterings WHERE scope = ?", [scope]
        ).fetchall()[0][0]
        if clustering_id is None:
            raise LookupError("no clusters yet; run `narratives discover` first")
    rows = con.execute(
        """WITH langs AS (
               SELECT m.cluster_id, count(*) FILTER (WHERE f.lang = 'en') AS en,
                      count(*) FILTER (WHERE f.lang = 'ru') AS ru,
                      count(*) FILTER (WHERE f.lang = 'uk') AS uk
               FROM cluster_members m JOIN passage_facts f ON f.passage_id = m.passage_id
               GROUP BY 1),
           terms AS (
               SELECT cluster_id, string_agg(term, ' ' ORDER BY lang, rank) AS terms
               FROM cluster_terms WHERE rank <= 3 GROUP BY 1)
           SELECT c.id, CASE WHEN c.status = 'matches' THEN 'matches ' || c.nearest_narrative
                             ELSE 'emerging' END,
                  c.size, c.documents, l.en, l.ru, l.uk, round(c.coherence, 2), c.nearest_narrative,
                  round(c.nearest_similarity, 3), round(c.confirmed_share, 2), c.first_day,
                  c.last_day, t.terms
           FROM clusters c LEFT JOIN langs l ON l.cluster_id = c.id
           LEFT JOIN terms t ON t.cluster_id = c.id
           WHERE c.clustering_id = ? ORDER BY c.status, c.size DESC""",
        [clustering_id],
    ).fetchall()
    return clustering_id, rows


def cluster_detail(con, cluster_id: int) -> dict:
    row = con.execute(
        "SELECT c.*, g.scope, g.window_start, g.window_end, g.set_id, g.set_version FROM clusters c "
        "JOIN clusterings g ON g.id = c.clustering_id WHERE c.id = ?",
        [cluster_id],
    ).fetchall()
    if not row:
        raise LookupError(f"no cluster {cluster_id}; `narratives clusters` lists them")
    cols = [d[0] for d in con.execute("SELECT c.*, g.scope, g.window_start, g.window_end, "
            "g.set_id, g.set_version FROM clusters c JOIN clusterings g ON g.id = c.clustering_id "
            "LIMIT 0").description]  # fmt: skip
    info = dict(zip(cols, row[0], strict=True))
    info["representatives"] = con.execute(
        "SELECT r.lang, r.rank, round(r.similarity, 3), f.outlet, f.day, p.text FROM cluster_representatives r "
        "JOIN passages p ON p.id = r.passage_id JOIN passage_facts f ON f.passage_id = r.passage_id "
        "WHERE r.cluster_id = ? ORDER BY r.lang, r.rank",
        [cluster_id],
    ).fetchall()
    info["terms"] = con.execute(
        "SELECT lang, string_agg(term, ', ' ORDER BY rank) FROM cluster_terms WHERE cluster_id = ? "
        "GROUP BY lang ORDER BY lang",
        [cluster_id],
    ).fetchall()
    info["sizes"] = con.execute(
        "SELECT lang, outlet, outlet_kind, passages, documents FROM cluster_sizes WHERE cluster_id = ? "
        "ORDER BY lang, passages DESC, outlet",
        [cluster_id],
    ).fetchall()
    return info


# --- promote -------------------------------------------------------------------------------
def promote(con, cluster_id: int, new_id: str, set_path: Path, out_path: Path | None = None,
            label: str | None = None) -> tuple[Path, Narrative]:  # fmt: skip
    """Add a narrative drafted from a cluster to a set file: its representative passages become
    the exemplars of each language, the one nearest the centroid its description, and its
    threshold the median of the set's (an analyst should read and tune it). The next run
    matches the new set version over every stored passage, reusing their vectors."""
    info = cluster_detail(con, cluster_id)
    nset = load_set(set_path)
    if new_id in nset.ids():
        raise ValueError(f"{set_path} already has a narrative {new_id!r}; choose another --id")
    exemplars: dict[str, list[str]] = {}
    for lang, _rank, _sim, _outlet, _day, text in info["representatives"]:
        exemplars.setdefault(lang, []).append(" ".join(text.split()))
    if not exemplars:
        raise ValueError(f"cluster {cluster_id} has no representative passages to promote")
    best = max(info["representatives"], key=lambda r: r[2])
    terms = dict(info["terms"])
    top_terms = terms.get("en") or next(iter(terms.values()), "")
    draft = Narrative(
        id=new_id,
        label=label or f"Cluster {cluster_id}: {', '.join(top_terms.split(', ')[:4])}".strip(),
        description=" ".join(best[5].split()),
        threshold=round(statistics.median(n.threshold for n in nset.narratives), 3),
        exemplars={lang: tuple(texts) for lang, texts in sorted(exemplars.items())},
    )
    grown = NarrativeSet(
        id=nset.id, title=nset.title, narratives=nset.narratives + (draft,),
        description=nset.description, event_date=nset.event_date,
    )  # fmt: skip
    target = dump_set(grown, out_path or set_path)
    load_set(target)  # what was written must load: fail here, not in the next run
    return target, draft
