"""Event scope: is a passage (and so its document) about the set's event?

A narrative is counted only in documents about the event: ordinary news on other topics must not
be forced into the nearest narrative. Two signals, per passage:
- key terms: any of the event's `terms` (names and places in every language), matched
  case-insensitively at the start of a word, so inflected forms (`Крокусе`) match too;
- the event head: a logistic regression trained on the set itself, on-topic text (the event
  description, every narrative's description, exemplars and counter-exemplars, the set's own
  background) against the shipped generic news background; its probability is `event_score`.
A document is in scope when one of its passages names a key term or scores at least the scope
threshold, and it was published inside the event's window (`start`..`end`, when given). The
decision per document is made in SQL (view `document_scope`) from the per-passage rows the match
step stores in `passage_scope`, so a document split across match chunks is judged whole.
A set without an `event` puts every document in scope.
"""

from __future__ import annotations

import re

import numpy as np

from narratives.core.settings import Settings
from narratives.matching.bank import generic_background
from narratives.matching.sets import Event, NarrativeSet

SCOPE = "terms+event-head-v1"  # named in run records


def term_pattern(event: Event | None) -> re.Pattern | None:
    """One pattern for every key term of every language (longest first), or None."""
    terms = sorted({t.casefold() for ts in (event.terms if event else {}).values() for t in ts},
                   key=len, reverse=True)  # fmt: skip
    if not terms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + ")", re.IGNORECASE)


def term_hits(pattern: re.Pattern | None, texts: list[str]) -> np.ndarray:
    if pattern is None:
        return np.zeros(len(texts), dtype=bool)
    return np.array([pattern.search(t) is not None for t in texts], dtype=bool)


def event_texts(nset: NarrativeSet) -> tuple[list[str], list[str]]:
    """(on-topic texts, off-topic texts) the event head learns from."""
    on = [nset.event.description] if nset.event else []
    for n in nset.narratives:
        on.append(n.description)
        for group in (n.exemplars, n.counter_exemplars):
            on += [t for texts in group.values() for t in texts]
    on += [t for texts in nset.background.values() for t in texts]
    off = [t for texts in generic_background().values() for t in texts]
    return on, off


class EventHead:
    """P(about the event | passage vector), fitted on the set's on-topic texts against generic
    news; `fit` takes their vectors in the order of `event_texts`."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.model = None

    def fit(self, on_vectors: np.ndarray, off_vectors: np.ndarray) -> EventHead:
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([on_vectors, off_vectors])
        y = np.r_[np.ones(len(on_vectors)), np.zeros(len(off_vectors))]
        self.model = LogisticRegression(C=self.settings.head_c, class_weight="balanced",
                                        max_iter=3000).fit(x, y)  # fmt: skip
        return self

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.model.predict_proba(vectors)[:, 1].astype(np.float32)


def parameters(settings: Settings) -> dict:
    return {"scope_threshold": settings.scope_threshold}
