"""Scoring passages against a narrative set, deciding, and keeping the evidence.

Each narrative is represented by its exemplars (any language) and its description. A passage's
score for a narrative is its cosine to the nearest of them, found through a FAISS inner-product
index over the exemplar vectors. The decision compares the score with the narrative's threshold:
`confirmed` at or above it, `suggested` within `suggest_margin` below it (the grey zone an analyst
reviews), else `rejected`, so a passage close to no narrative is not forced into one. The margin
over the runner-up narrative is kept with the nearest exemplar as evidence.

Scorers are registered by name and the name is written into each run's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from narratives.definitions import NarrativeSet

# exemplars are short claims and passages are longer text: e5's asymmetric roles fit
EXEMPLAR_ROLE = "query"


@dataclass
class ExemplarBank:
    """The vectors a set is matched with: one row per exemplar or description."""

    narrative_ids: list[str]
    langs: list[str]
    texts: list[str]
    vectors: np.ndarray

    @classmethod
    def texts_of(cls, nset: NarrativeSet) -> tuple[list[str], list[str], list[str]]:
        ids, langs, texts = [], [], []
        for n in nset.narratives:
            if n.status != "active":
                continue
            ids.append(n.id)
            langs.append("en")  # descriptions are written in English by convention
            texts.append(n.description)
            for lang, examples in n.exemplars.items():
                for t in examples:
                    ids.append(n.id)
                    langs.append(lang)
                    texts.append(t)
        return ids, langs, texts


@dataclass
class Decision:
    narrative_id: str
    rank: int
    score: float
    threshold: float
    exemplar_text: str
    exemplar_lang: str
    margin: float
    decision: str


def narrative_scores(passage_vectors: np.ndarray, bank: ExemplarBank, order: list[str]):
    """(scores, nearest-row) arrays of shape (n_passages, n_narratives): the best cosine of each
    passage to each narrative's rows, and which bank row gave it. Searched through FAISS."""
    import faiss

    n, m = len(passage_vectors), len(order)
    scores = np.full((n, m), -1.0, dtype=np.float32)
    nearest = np.full((n, m), -1, dtype=np.int64)
    if n == 0 or len(bank.texts) == 0:
        return scores, nearest
    index = faiss.IndexFlatIP(bank.vectors.shape[1])
    index.add(np.ascontiguousarray(bank.vectors, dtype=np.float32))
    sims, rows = index.search(
        np.ascontiguousarray(passage_vectors, dtype=np.float32), len(bank.texts)
    )
    column = {nid: j for j, nid in enumerate(order)}
    row_col = np.array([column[nid] for nid in bank.narrative_ids])
    # results come sorted by similarity, so the first hit of each narrative is its best:
    # walk the ranks from worst to best and let better hits overwrite
    for r in range(sims.shape[1] - 1, -1, -1):
        cols = row_col[rows[:, r]]
        scores[np.arange(n), cols] = sims[:, r]
        nearest[np.arange(n), cols] = rows[:, r]
    return scores, nearest


def decide(score: float, threshold: float, suggest_margin: float) -> str:
    if score >= threshold:
        return "confirmed"
    if score >= threshold - suggest_margin:
        return "suggested"
    return "rejected"


def max_exemplar(
    passage_vectors: np.ndarray,
    bank: ExemplarBank,
    nset: NarrativeSet,
    *,
    top_k: int = 3,
    suggest_margin: float = 0.03,
) -> list[list[Decision]]:
    """For each passage, its top_k narratives by score, each with decision and evidence."""
    order = [n.id for n in nset.narratives if n.status == "active"]
    thresholds = np.array([nset.get(nid).threshold for nid in order], dtype=np.float32)
    scores, nearest = narrative_scores(passage_vectors, bank, order)
    k = min(top_k, len(order))
    out: list[list[Decision]] = []
    for i in range(len(passage_vectors)):
        ranked = np.argsort(-scores[i], kind="stable")
        best, second = scores[i, ranked[0]], (scores[i, ranked[1]] if len(order) > 1 else 0.0)
        row = []
        for rank, j in enumerate(ranked[:k], 1):
            s = float(scores[i, j])
            other = second if rank == 1 else best
            ex = int(nearest[i, j])
            row.append(
                Decision(
                    narrative_id=order[j],
                    rank=rank,
                    score=s,
                    threshold=float(thresholds[j]),
                    exemplar_text=bank.texts[ex] if ex >= 0 else "",
                    exemplar_lang=bank.langs[ex] if ex >= 0 else "",
                    margin=s - float(other),
                    decision=decide(s, float(thresholds[j]), suggest_margin),
                )
            )
        out.append(row)
    return out


SCORERS: dict[str, Callable[..., list[list[Decision]]]] = {"max-exemplar": max_exemplar}


def get_scorer(name: str):
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; choose one of {sorted(SCORERS)}")
    return SCORERS[name]


def document_labels(passage_decisions: list[list[Decision]]) -> set[str]:
    """Document-level aggregation 'any': a document carries a narrative when one of its
    passages is confirmed for it."""
    return {d.narrative_id for row in passage_decisions for d in row if d.decision == "confirmed"}
