"""Event scope: is a passage (and so its document) about the set's event?

A narrative is counted only in documents about the event: ordinary news on other topics must not
be forced into the nearest narrative. Two signals, per passage:
- key terms: any of the event's `terms` (names and places in every language), matched
  case-insensitively at the start of a word, so inflected forms (`Крокусе`) match too;
- the event head: a logistic regression trained on the set itself, on-topic text (the event
  description, every narrative's description, exemplars and counter-exemplars, the set's own
  background) against off-topic text shipped with the package: the generic news background and
  the stance bank (claims, rebuttals and news reports on other subjects: elections, floods,
  sanctions, the war's front line, courts, sport), so that political or violent news on another
  subject does not pass for the event. Its probability, `event_score`, assumes the event is the
  subject of one passage in ten (`EVENT_PRIOR`) rather than of one in two: a document is in scope
  when any of its passages scores high, so a passage's false alarms count many times over. With the
  class-balanced fit alone, about half of ordinary news documents (NTREX) had a passage above 0.5;
  with the prior, none (docs/trust.md).
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
from narratives.matching.bank import GENERIC_BACKGROUND, generic_background
from narratives.matching.sets import Event, NarrativeSet
from narratives.matching.stance import STANCE_BANK, stance_bank

SCOPE = "terms+event-head-v2"  # named in run records
EVENT_C = 3.0  # C of the event head's logistic regression
EVENT_PRIOR = 0.1  # share of passages taken to be about the event before reading them


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
    off += [t for group in stance_bank().values() for texts in group.values() for t in texts]
    return on, off


class EventHead:
    """P(about the event | passage vector), fitted on the set's on-topic texts against off-topic
    ones; `fit` takes their vectors in the order of `event_texts`. The fit is class-balanced, and
    `scores` moves its log-odds to the prior `EVENT_PRIOR`."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.model = None

    def fit(self, on_vectors: np.ndarray, off_vectors: np.ndarray) -> EventHead:
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([on_vectors, off_vectors])
        y = np.r_[np.ones(len(on_vectors)), np.zeros(len(off_vectors))]
        self.model = LogisticRegression(C=EVENT_C, class_weight="balanced", max_iter=3000).fit(x, y)
        return self

    def log_odds(self, vectors: np.ndarray) -> np.ndarray:
        """The head's log-odds with the prior applied (`scores` is their logistic)."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        prior = np.log(EVENT_PRIOR / (1 - EVENT_PRIOR))
        return (self.model.decision_function(vectors) + prior).astype(np.float32)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        return (1 / (1 + np.exp(-self.log_odds(vectors)))).astype(np.float32)


def parameters(settings: Settings) -> dict:
    return {
        "scope_threshold": settings.scope_threshold,
        "event_c": EVENT_C,
        "event_prior": EVENT_PRIOR,
        "off_topic": f"{GENERIC_BACKGROUND}+{STANCE_BANK}",
    }
