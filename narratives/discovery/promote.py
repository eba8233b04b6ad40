"""Promoting a cluster to a draft narrative in a set file."""

from __future__ import annotations

import statistics
from pathlib import Path

from narratives.discovery.queries import cluster_detail
from narratives.matching.sets import Narrative, NarrativeSet, dump_set, load_set


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
