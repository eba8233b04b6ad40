"""The scorer contract, the registry, and deciding from scores.

A scorer turns passage vectors into a (passages x narratives) score matrix and declares its
decision rule: the cosine scorers compare each score with the narrative's `threshold` from the
set's YAML; the exemplar head compares a probability with its own threshold. A score at or above
the threshold is `confirmed`, within the scorer's suggest band below it `suggested` (the grey
zone an analyst reviews), else `rejected`, so a passage close to no narrative is not forced into
one. The nearest exemplar and the margin over the runner-up narrative are kept as evidence.
Scorers are registered by name (`narratives.matching.scorers`); the name and `parameters()`
are written into each run's record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from narratives.core.settings import Settings
from narratives.matching.bank import ExemplarBank, active_ids
from narratives.matching.centring import centre_by_language
from narratives.matching.sets import NarrativeSet

# a document carries a narrative when one of its passages is confirmed (named in run records)
AGGREGATION = "any-passage"
GATED = 1.0  # subtracted from a narrative's score where the background is closer


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


class Scorer(ABC):
    """Scores passages against a bank; one abstract method. Parameters come from Settings."""

    name = ""
    uses_set_thresholds = True  # cosine scorers: the set's per-narrative thresholds decide
    learns_from_labels = False  # True: trained with analysts' labelled passages when given

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()

    @abstractmethod
    def score(self, vectors: np.ndarray, bank: ExemplarBank, order: list[str]
              ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(scores, nearest bank row) for n passages and the narratives of `order`."""

    def parameters(self) -> dict:
        """The constants this scorer's numbers depend on, for run records."""
        return {}

    @property
    def suggest_band(self) -> float:
        return self.settings.suggest_margin

    def thresholds(self, nset: NarrativeSet, order: list[str], calibrated: dict | None = None):
        """Per-narrative thresholds: a fitted calibration where it has one, else the rule's."""
        calibrated = calibrated or {}
        own = [nset.get(n).threshold if self.uses_set_thresholds else self.threshold for n in order]
        return np.array([calibrated.get(n, t) for n, t in zip(order, own, strict=True)], np.float32)

    def rule(self) -> str:
        """The decision rule in words, as `list`, `show` and the dashboard print it."""
        return f"cosine >= the set's threshold per narrative ({self.name})"

    def prepare(self, bank: ExemplarBank, nset: NarrativeSet) -> None:
        """Fit whatever the scorer learns from the bank now, once, before its passages are
        scored (in this process or, pickled with the bank, on Dask workers); default: nothing."""
        return None

    def decide(self, vectors: np.ndarray, bank: ExemplarBank, nset: NarrativeSet, *,
               top_k: int = 3, thresholds: dict | None = None) -> list[list[Decision]]:  # fmt: skip
        """Each passage's top_k narratives with decision and evidence."""
        order = active_ids(nset)
        scores, nearest = self.score(vectors, bank, order)
        return decisions_from_scores(
            scores, nearest, bank, order, self.thresholds(nset, order, thresholds),
            top_k=top_k, suggest_margin=self.suggest_band,
        )  # fmt: skip


_REGISTRY: dict[str, type[Scorer]] = {}


def register_scorer(name: str) -> Callable[[type[Scorer]], type[Scorer]]:
    def add(cls: type[Scorer]) -> type[Scorer]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def scorer_names() -> list[str]:
    _load_builtin_scorers()
    return sorted(_REGISTRY)


def get_scorer(name: str, settings: Settings | None = None) -> Scorer:
    _load_builtin_scorers()
    if name not in _REGISTRY:
        raise ValueError(f"unknown scorer {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name](settings)


def _load_builtin_scorers() -> None:
    from narratives.matching.scorers import cosine, head, knn  # noqa: F401  (they register)


def scorer_parameters(name: str, settings: Settings | None = None) -> dict:
    """The constants a scorer's numbers depend on, for run records."""
    from narratives.matching.bank import EXEMPLAR_ROLE

    return {"exemplar_role": EXEMPLAR_ROLE} | get_scorer(name, settings).parameters()


def score_matrix(
    passage_vectors: np.ndarray,
    bank: ExemplarBank,
    order: list[str],
    scorer: str | Scorer,
    *,
    passage_langs=None,
    lang_means: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, nearest-row) of a scorer (by name or instance). With `lang_means` (and the
    passages' languages), passages and bank rows are first centred by language."""
    if isinstance(scorer, str):
        scorer = get_scorer(scorer)
    if lang_means:
        if passage_langs is None or len(passage_langs) != len(passage_vectors):
            raise ValueError("centring by language needs each passage's language")
        passage_vectors = centre_by_language(passage_vectors, passage_langs, lang_means)
        bank = ExemplarBank(
            bank.narrative_ids, bank.langs, bank.texts,
            centre_by_language(bank.vectors, bank.langs, lang_means),
        )  # fmt: skip
    return scorer.score(passage_vectors, bank, order)


def decide(score: float, threshold: float, suggest_margin: float) -> str:
    if score >= threshold:
        return "confirmed"
    if score >= threshold - suggest_margin:
        return "suggested"
    return "rejected"


def decisions_from_scores(
    scores: np.ndarray,
    nearest: np.ndarray,
    bank: ExemplarBank,
    order: list[str],
    thresholds: np.ndarray,
    *,
    top_k: int = 3,
    suggest_margin: float = 0.03,
) -> list[list[Decision]]:
    """For each passage, its top_k narratives by score, each with decision and evidence."""
    k = min(top_k, len(order))
    out: list[list[Decision]] = []
    for i in range(len(scores)):
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


# --- passage -> document ----------------------------------------------------------------------
AGGREGATIONS = ("max", "top2-mean", "count")


def aggregate(passage_scores: np.ndarray, how: str = "max") -> np.ndarray:
    """One score per narrative for a document from its passages' scores (n_passages x m).

    `max` is the pipeline's rule (a document has a narrative when one passage is confirmed);
    `top2-mean` asks two passages to agree; `count` is not a score but is computed from
    decisions (see `document_labels`)."""
    if len(passage_scores) == 0:
        return np.full(passage_scores.shape[1], -1.0, dtype=np.float32)
    if how == "max":
        return passage_scores.max(axis=0)
    if how == "top2-mean":
        k = min(2, len(passage_scores))
        return np.sort(passage_scores, axis=0)[-k:].mean(axis=0)
    raise ValueError(f"unknown aggregation {how!r}; choose one of {AGGREGATIONS[:2]}")


def document_labels(passage_decisions: list[list[Decision]], min_passages: int = 1) -> set[str]:
    """Document-level aggregation: a document carries a narrative when at least `min_passages`
    of its passages are confirmed for it (1 = the pipeline's 'any passage')."""
    counts: dict[str, int] = {}
    for row in passage_decisions:
        for d in row:
            if d.decision == "confirmed":
                counts[d.narrative_id] = counts.get(d.narrative_id, 0) + 1
    return {nid for nid, c in counts.items() if c >= min_passages}
