"""`knn-vote`: the K nearest bank rows (exemplars, descriptions, background) vote for their
narrative with their cosine; a narrative's score is the sum of its votes (0 without one), so a
narrative backed by several close exemplars beats one with a single lucky neighbour. Decided
with the set's thresholds, like the cosine scorers."""

from __future__ import annotations

import numpy as np

from narratives.matching.bank import BACKGROUND
from narratives.matching.base import GATED, Scorer, register_scorer
from narratives.matching.scorers.cosine import narrative_scores, similarities


@register_scorer("knn-vote")
class KnnVote(Scorer):
    def parameters(self) -> dict:
        return {"knn_k": self.settings.knn_k}

    def score(self, vectors, bank, order):
        """(votes, nearest-row): each narrative's summed cosines among the passage's k nearest
        bank rows; background rows vote too, and a passage whose background votes are at least
        a narrative's gets that narrative's score minus GATED."""
        k = self.settings.knn_k
        _, nearest, _ = narrative_scores(vectors, bank, order, "max")
        sims = similarities(vectors, bank)
        votes = np.zeros((len(vectors), len(order)), dtype=np.float32)
        if sims.shape[1] == 0 or len(vectors) == 0:
            return votes, nearest
        column = {nid: j for j, nid in enumerate(order)}
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        background = np.zeros(len(vectors), dtype=np.float32)
        for i, rows in enumerate(top):
            for r in rows:
                nid = bank.narrative_ids[r]
                if nid == BACKGROUND:
                    background[i] += sims[i, r]
                elif nid in column:
                    votes[i, column[nid]] += sims[i, r]
        closer = (background[:, None] > 0) & (background[:, None] >= votes)
        return np.where(closer, votes - GATED, votes).astype(np.float32), nearest
