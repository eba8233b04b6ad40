"""Cosine scorers: a narrative's score is a cosine to its exemplars and description, decided
with the set's per-narrative thresholds (the `threshold` of the YAML).

- `max-exemplar`: the cosine to the nearest exemplar or description of the narrative.
- `lang-balanced`: the nearest exemplar within each exemplar language, averaged over languages,
  so a narrative whose exemplars are mostly in the passage's own language is not favoured
  (e5 scores same-language pairs higher).
- `relative`: `max-exemplar` minus the passage's mean over all narratives plus an offset, so
  "close to everything" (on-topic but generic text) is not "close to this narrative".

When the bank has background rows, a passage closer to the background than to a narrative gets
that narrative's score minus GATED (negative in `matches`), so no threshold confirms it.
"""

from __future__ import annotations

import numpy as np

from narratives.matching.bank import BACKGROUND, ExemplarBank
from narratives.matching.base import GATED, Scorer, register_scorer


def similarities(passage_vectors: np.ndarray, bank: ExemplarBank) -> np.ndarray:
    """Cosines of every passage to every bank row (vectors are L2-normalised), in bank-row order.

    One float32 matrix product (BLAS): a bank holds hundreds of rows, not millions, so an index
    buys nothing, and a FAISS search over every row, then put back in row order, took 6x as long
    for the same numbers (issue 15: 0.148 s against 0.024 s per 4,096 passages)."""
    n, r = len(passage_vectors), len(bank.texts)
    if n == 0 or r == 0:
        return np.zeros((n, r), dtype=np.float32)
    passages = np.ascontiguousarray(passage_vectors, dtype=np.float32)
    return passages @ np.ascontiguousarray(bank.vectors, dtype=np.float32).T


def narrative_scores(
    passage_vectors: np.ndarray, bank: ExemplarBank, order: list[str], method: str = "max"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, nearest-row, background) for n passages and m narratives: scores and nearest
    are (n, m); background is each passage's best cosine to the set's background (-inf without).

    method `max`: the best cosine over the narrative's rows; `lang-balanced`: the mean over the
    narrative's exemplar languages of the best cosine within each language. `nearest` is always
    the row of the single best cosine (the evidence shown to analysts)."""
    n, m = len(passage_vectors), len(order)
    scores = np.full((n, m), -1.0, dtype=np.float32)
    nearest = np.full((n, m), -1, dtype=np.int64)
    background = np.full(n, -np.inf, dtype=np.float32)
    sims = similarities(passage_vectors, bank)
    if sims.shape[1] == 0 or n == 0:
        return scores, nearest, background
    ids = np.array(bank.narrative_ids)
    langs = np.array(bank.langs)
    for j, nid in enumerate(order):
        rows = np.flatnonzero(ids == nid)
        if len(rows) == 0:
            continue
        block = sims[:, rows]
        nearest[:, j] = rows[block.argmax(axis=1)]
        if method == "lang-balanced":
            per_lang = [
                block[:, langs[rows] == lang].max(axis=1) for lang in np.unique(langs[rows])
            ]
            scores[:, j] = np.mean(per_lang, axis=0)
        else:
            scores[:, j] = block.max(axis=1)
    if (ids == BACKGROUND).any():
        background = sims[:, ids == BACKGROUND].max(axis=1)
    return scores, nearest, background


def gated(scores: np.ndarray, background: np.ndarray, raw: np.ndarray | None = None) -> np.ndarray:
    """Scores minus GATED where the background is at least as close as the narrative (`raw`:
    the cosines compared with the background, when `scores` were transformed)."""
    closer = background[:, None] >= (scores if raw is None else raw)
    return np.where(closer, scores - GATED, scores).astype(np.float32)


@register_scorer("max-exemplar")
class MaxExemplar(Scorer):
    def score(self, vectors, bank, order):
        scores, nearest, background = narrative_scores(vectors, bank, order, "max")
        return gated(scores, background), nearest


@register_scorer("lang-balanced")
class LangBalanced(Scorer):
    def score(self, vectors, bank, order):
        scores, nearest, background = narrative_scores(vectors, bank, order, "lang-balanced")
        return gated(scores, background), nearest


@register_scorer("relative")
class Relative(Scorer):
    def parameters(self) -> dict:
        return {"relative_offset": self.settings.relative_offset}

    def score(self, vectors, bank, order):
        raw, nearest, background = narrative_scores(vectors, bank, order, "max")
        scores = raw
        if len(order) > 1:
            scores = raw - raw.mean(axis=1, keepdims=True) + self.settings.relative_offset
        return gated(scores, background, raw), nearest
