"""What matching learns: per-narrative thresholds and a light classifier head.

- `exemplar_thresholds` needs no labelled documents: each exemplar is scored against the set with
  itself left out, so it is a positive for its own narrative and a negative for the others, and
  each narrative's threshold is the one that separates those best (F1). The pipeline can use it on
  any set.
- `fit_thresholds` does the same on labelled documents' scores (a `--train` file).
- `LogisticHead` is one logistic regression per narrative over a document's mean passage vector
  and its narrative scores, trained from labelled documents plus the exemplars as positives.

Whatever is fitted on labels is fitted on data other than what it is scored on (see
`narratives.evaluation.run`: `--train FILE` or cross-validation).
"""

from __future__ import annotations

import numpy as np

from narratives.core.settings import Settings
from narratives.core.store import writer
from narratives.matching.bank import ExemplarBank, active_ids, embed_bank
from narratives.matching.base import Scorer, get_scorer, score_matrix
from narratives.matching.sets import NarrativeSet
from narratives.matching.taxonomy import with_thresholds
from narratives.vectors.step import load_embedder

# the "suggested" tier: scores this far below a fitted threshold go to an analyst for review
SUGGEST_BAND = 0.03


def best_f1_threshold(scores: np.ndarray, gold: np.ndarray, default: float) -> float:
    """The cut on one narrative's scores that maximises F1 on (scores, gold); midway between
    neighbouring scores, so a score equal to a training score is not on the edge. `default`
    when there is no positive to learn from."""
    if gold.sum() == 0:
        return default
    order = np.argsort(-scores, kind="stable")
    s, g = scores[order], gold[order].astype(bool)
    tp = np.cumsum(g)
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + g.sum())
    # only cut between different scores
    valid = np.r_[s[:-1] > s[1:], True]
    f1 = np.where(valid, f1, -1)
    i = int(np.argmax(f1))
    below = s[i + 1] if i + 1 < len(s) else s[i] - 0.02
    return float((s[i] + below) / 2)


def fit_thresholds(
    scores: np.ndarray, gold: np.ndarray, order: list[str], defaults: np.ndarray
) -> dict[str, float]:
    """Per-narrative thresholds from labelled documents: scores and gold are (docs x narratives)."""
    return {
        nid: best_f1_threshold(scores[:, j], gold[:, j], float(defaults[j]))
        for j, nid in enumerate(order)
    }


def exemplar_thresholds(
    bank: ExemplarBank, order: list[str], scorer: str | Scorer, defaults
) -> dict[str, float]:
    """Thresholds from the exemplars alone: each exemplar, with its translations left out of the
    bank, is scored against the rest; it is a positive for its own narrative and a negative for
    the others (background sentences are negatives for all). Descriptions stay in the bank."""
    scorer = get_scorer(scorer) if isinstance(scorer, str) else scorer
    if not scorer.uses_set_thresholds:
        raise ValueError("exemplar-thresholds calibrates cosine scorers; the exemplar head "
                         "is already fitted on the exemplars (its threshold is a probability)")  # fmt: skip
    groups = bank.groups()
    scored, rows = [], []
    for key in dict.fromkeys(groups):
        if key[1] == "description":
            continue
        out = [r for r, g in enumerate(groups) if g == key]
        keep = [r for r, g in enumerate(groups) if g != key]
        rest = ExemplarBank(
            [bank.narrative_ids[r] for r in keep],
            [bank.langs[r] for r in keep],
            [bank.texts[r] for r in keep],
            bank.vectors[keep],
        )
        scored.append(score_matrix(bank.vectors[out], rest, order, scorer)[0])
        rows += out
    scores = np.vstack(scored)
    gold = np.array([[nid == bank.narrative_ids[r] for nid in order] for r in rows])
    return fit_thresholds(scores, gold, order, np.asarray(defaults, dtype=np.float32))


class LogisticHead:
    """One-vs-rest logistic regression per narrative on [mean passage vector, narrative scores].

    Narratives without positive training documents fall back to the exemplars alone; a narrative
    with no positives at all is never predicted."""

    def __init__(self, order: list[str], c: float = 1.0):
        self.order = order
        self.c = c
        self.models: dict[str, object] = {}

    @staticmethod
    def features(doc_means: np.ndarray, doc_scores: np.ndarray) -> np.ndarray:
        return np.hstack([doc_means, doc_scores]).astype(np.float32)

    def fit(self, x: np.ndarray, gold: np.ndarray, x_exemplars=None, exemplar_ids=None):
        from sklearn.linear_model import LogisticRegression

        for j, nid in enumerate(self.order):
            xs, ys = [x], [gold[:, j].astype(int)]
            if x_exemplars is not None:
                xs.append(x_exemplars)
                ys.append(np.array([e == nid for e in exemplar_ids], dtype=int))
            xx, yy = np.vstack(xs), np.concatenate(ys)
            if yy.sum() == 0 or yy.sum() == len(yy):
                continue
            model = LogisticRegression(C=self.c, class_weight="balanced", max_iter=2000)
            self.models[nid] = model.fit(xx, yy)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), len(self.order)), dtype=np.float32)
        for j, nid in enumerate(self.order):
            if nid in self.models:
                out[:, j] = self.models[nid].predict_proba(x)[:, 1]
        return out


def calibrate_on_exemplars(settings: Settings, nset: NarrativeSet) -> NarrativeSet:
    """The set with each narrative's threshold fitted on its exemplars (`exemplar_thresholds`),
    for the configured scorer; vectors cached in the evaluation database."""
    embedder = load_embedder(settings.model, settings.models_dir)
    order = active_ids(nset)
    with writer(settings.eval_database, settings.lock_wait_s) as con:
        bank, _ = embed_bank(con, nset, embedder)
    defaults = [nset.get(n).threshold for n in order]
    scorer = get_scorer(settings.scorer, settings)
    return with_thresholds(nset, exemplar_thresholds(bank, order, scorer, defaults))
