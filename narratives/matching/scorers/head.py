"""`exemplar-head` (the default): one logistic regression per narrative trained on the bank
itself: the narrative's exemplars and description are the positives, the other narratives'
exemplars and the background the negatives. Its score is a probability, decided with its own
threshold (`Settings.head_threshold`, 0.5: "as likely as not"), never the set's cosine
thresholds. It learns which directions of the embedding tell this narrative from on-topic text
that does not carry it, where a cosine mostly measures topic. No labelled documents needed;
when analysts have labelled passages (the review queue's uncertain stream), they join the
bank's rows as examples (`ExemplarBank.training`)."""

from __future__ import annotations

import numpy as np

from narratives.matching.base import Scorer, register_scorer
from narratives.matching.scorers.cosine import narrative_scores


@register_scorer("exemplar-head")
class ExemplarHead(Scorer):
    uses_set_thresholds = False
    learns_from_labels = True

    def parameters(self) -> dict:
        s = self.settings
        return {"head_c": s.head_c, "head_threshold": s.head_threshold,
                "head_suggest_band": s.head_suggest_band}  # fmt: skip

    @property
    def threshold(self) -> float:
        return self.settings.head_threshold

    @property
    def suggest_band(self) -> float:
        return self.settings.head_suggest_band

    def rule(self) -> str:
        return f"probability >= {self.threshold:g} (exemplar-head)"

    def score(self, vectors, bank, order):
        """(probabilities, nearest-row); nearest is the max-cosine row, kept as evidence."""
        from sklearn.linear_model import LogisticRegression

        _, nearest, _ = narrative_scores(vectors, bank, order, "max")
        out = np.zeros((len(vectors), len(order)), dtype=np.float32)
        for j, nid in enumerate(order):
            x, y = bank.training(nid)
            if len(vectors) == 0 or y.sum() in (0, len(y)):
                continue  # nothing to tell it from: never confirmed
            model = LogisticRegression(
                C=self.settings.head_c, class_weight="balanced", max_iter=3000
            )
            model.fit(x, y)
            out[:, j] = model.predict_proba(vectors)[:, 1]
        return out, nearest
