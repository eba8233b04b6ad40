"""Scope and stance for one narrative set, fitted once per match step from the set itself (and
the shipped banks), with every training text's vector from the cache."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from narratives.core.settings import Settings
from narratives.matching import scope, stance
from narratives.matching.bank import EXEMPLAR_ROLE, LabelledExamples
from narratives.matching.sets import NarrativeSet
from narratives.vectors.store import embed_cached


@dataclass
class Judgement:
    term_hits: np.ndarray  # bool per passage
    event_scores: np.ndarray | None  # per passage; None: the set declares no event
    stances: list[str]  # the stance head's, per passage
    stance_scores: np.ndarray
    # per passage, the narratives whose counter-exemplars it is nearer to (stance.CounterCheck)
    nearer_counter: list[frozenset[str]]

    def stance(self, i: int, narrative_id: str) -> str:
        """Passage i's stance towards one narrative: the head's, except that an asserting
        passage nearer the narrative's counter-exemplars refutes it."""
        if self.stances[i] == "asserts" and narrative_id in self.nearer_counter[i]:
            return "refutes"
        return self.stances[i]


@dataclass
class Judges:
    pattern: object
    event_head: scope.EventHead | None
    stance_head: stance.StanceHead
    counter_check: stance.CounterCheck | None  # None: Settings.stance_counter_check off
    threshold: float | None  # the event score a passage needs; None without an event

    @classmethod
    def fit(cls, con, nset: NarrativeSet, embedder, settings: Settings,
            labelled: LabelledExamples | None = None) -> tuple[Judges, int]:  # fmt: skip
        """The set's judges and how many training texts had to be embedded; analysts' stance
        verdicts on passages (`labelled`) join the stance head's examples."""
        new = 0
        event_head = None
        if nset.event is not None:
            on, off = scope.event_texts(nset)
            on_v, n_on = embed_cached(con, embedder, on, EXEMPLAR_ROLE)
            off_v, n_off = embed_cached(con, embedder, off, EXEMPLAR_ROLE)
            event_head, new = scope.EventHead(settings).fit(on_v, off_v), new + n_on + n_off
        texts, labels = stance.training_texts(nset)
        vectors, n_stance = embed_cached(con, embedder, texts, EXEMPLAR_ROLE)
        # the analysts' verdicts: cross-validated by document, counted by (document, narrative)
        groups: list = [None] * len(texts)
        units: list = [None] * len(texts)
        if labelled is not None:
            more_v, more_t, more_s, more_g, more_u = labelled.stances()
            vectors, texts, labels = np.vstack([vectors, more_v]), texts + more_t, labels + more_s
            groups, units = groups + more_g, units + more_u
        stance_head = stance.StanceHead(settings).fit(vectors, labels, texts, groups=groups,
                                                      units=units)  # fmt: skip
        counter = None
        if settings.stance_counter_check:
            counter = stance.CounterCheck().fit(nset, dict(zip(texts, vectors, strict=True)))
        threshold = settings.scope_threshold if event_head is not None else None
        return cls(
            scope.term_pattern(nset.event), event_head, stance_head, counter, threshold
        ), new + n_stance

    def judge(self, vectors: np.ndarray, texts: list[str], documents: list,
              narratives: list[list[str]] | None = None) -> Judgement:  # fmt: skip
        """`documents`: each passage's context key (the match step passes (document id, best
        narrative)), passages of a key together and in order: a passage's stance is judged among
        its neighbours with the same key (`Settings.stance_context`). `narratives`: the
        narratives each passage is decided for, checked against their counter-exemplars."""
        stances, scores = self.stance_head.predict(vectors, texts, documents)
        asked = narratives if narratives is not None else [[] for _ in texts]
        nearer = (self.counter_check.nearer_counter(vectors, asked) if self.counter_check
                  else [frozenset()] * len(texts))  # fmt: skip
        return Judgement(
            nearer_counter=nearer,
            term_hits=scope.term_hits(self.pattern, texts),
            event_scores=self.event_head.scores(vectors) if self.event_head else None,
            stances=stances,
            stance_scores=scores,
        )


def components() -> dict:
    return {"scope": scope.SCOPE, "stance": stance.STANCE}


def parameters(settings: Settings) -> dict:
    return scope.parameters(settings) | stance.parameters(settings)
