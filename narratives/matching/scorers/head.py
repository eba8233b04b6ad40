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

from narratives.matching.bank import active_ids
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

    def prepare(self, bank, nset) -> None:
        self._heads(bank, active_ids(nset))

    def score(self, vectors, bank, order):
        """(probabilities, nearest-row); nearest is the max-cosine row, kept as evidence."""
        _, nearest, _ = narrative_scores(vectors, bank, order, "max")
        out = np.zeros((len(vectors), len(order)), dtype=np.float32)
        if len(vectors) == 0:
            return out, nearest
        for j, model in enumerate(self._heads(bank, order)):
            if model is not None:  # None: nothing to tell it from, never confirmed
                out[:, j] = model.predict_proba(vectors)[:, 1]
        return out, nearest

    def _heads(self, bank, order) -> list:
        """One fitted model (or None) per narrative of `order`, fitted once per bank: the match
        step scores its passages in chunks against one bank, and refitting for every chunk gave
        the same models each time (issue 15). The cache holds the bank itself and is used only
        while the same bank object carries the same vectors and labelled examples (`labelled`
        is set on a bank after it is built) under the same C."""
        key = (bank.vectors, bank.labelled, tuple(order), self.settings.head_c)
        cached = getattr(self, "_fitted", None)
        if cached is not None and cached[0] is bank and _same(cached[1], key):
            return cached[2]
        from sklearn.linear_model import LogisticRegression

        models = []
        for nid in order:
            x, y = bank.training(nid)
            if y.sum() in (0, len(y)):
                models.append(None)
                continue
            model = LogisticRegression(
                C=self.settings.head_c, class_weight="balanced", max_iter=3000
            )
            models.append(model.fit(x, y))
        self._fitted = (bank, key, models)
        return models


def _same(a: tuple, b: tuple) -> bool:
    """Same vectors and labelled objects (identity: arrays compare element-wise), same order and C."""
    return a[0] is b[0] and a[1] is b[1] and a[2:] == b[2:]
