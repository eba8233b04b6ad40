"""What the pipeline counts, on documents held in memory: the match step's decisions, the event
scope and the stance, applied to each document's passages as the pipeline applies them.

A document carries a narrative when one of its passages is confirmed for it and asserts it
(`Judgement.stance`, the counter check included), and it is counted when it is also in scope:
one of its passages names a key term of the set's event or reaches the event head's threshold,
and it is dated inside the event's window (an undated document counts as inside). `narratives
eval --counted` and `benchmarks/trust.py` use it, so that what they measure is what
`narratives agreement` measures on a stored run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from narratives.matching.bank import ExemplarBank
from narratives.matching.base import Scorer
from narratives.matching.judges import Judges
from narratives.matching.sets import Event, NarrativeSet


def in_window(event: Event | None, date: dt.date | None) -> bool:
    """Inside the event's date window; an undated document counts as inside."""
    if event is None or date is None:
        return True
    return (event.start is None or date >= event.start) and (event.end is None or date <= event.end)


@dataclass
class Counted:
    """Per document."""

    confirmed: np.ndarray  # bool: a passage confirmed for any narrative (the count before scope)
    in_scope: np.ndarray  # bool: about the event (terms or event head) and inside its window
    head_scope: np.ndarray  # bool: the same by the event head alone
    terms: np.ndarray  # bool: a passage names a key term
    carried: list[set[str]]  # narratives with a passage confirmed for them that asserts them

    @property
    def counted(self) -> np.ndarray:
        """In scope and carrying one narrative or more."""
        return self.in_scope & np.array([bool(c) for c in self.carried], dtype=bool)

    def matrix(self, order: list[str]) -> np.ndarray:
        """(documents x narratives) booleans: counted for that narrative."""
        out = np.zeros((len(self.carried), len(order)), dtype=bool)
        for i, (carried, in_scope) in enumerate(zip(self.carried, self.in_scope, strict=True)):
            out[i] = [in_scope and n in carried for n in order]
        return out


def count_documents(
    vectors: np.ndarray, texts: list[str], owner: np.ndarray, n_docs: int, *, scorer: Scorer,
    bank: ExemplarBank, nset: NarrativeSet, judges: Judges, top_k: int,
    inside_window: np.ndarray | None = None, context: bool = True,
) -> Counted:  # fmt: skip
    """`vectors`, `texts`: every passage, those of a document together and in order; `owner`:
    each passage's document (0..n_docs-1). `inside_window`: per document, dated inside the event's
    window (None: all are). With `context`, stance judges each passage among its document's
    neighbours that speak of the same narrative (its best-scoring one), as the match step does."""
    owner = np.asarray(owner, dtype=int)
    decisions = scorer.decide(vectors, bank, nset, top_k=top_k)
    keys = [(int(d), row[0].narrative_id if row else None)
            for d, row in zip(owner, decisions, strict=True)] if context else None  # fmt: skip
    asked = [[d.narrative_id for d in row] for row in decisions]
    judged = judges.judge(vectors, texts, keys, asked)
    window = (np.ones(n_docs, dtype=bool) if inside_window is None
              else np.asarray(inside_window, dtype=bool))  # fmt: skip
    carried: list[set[str]] = [set() for _ in range(n_docs)]
    confirmed = np.zeros(n_docs, dtype=bool)
    for i, row in enumerate(decisions):
        for d in row:
            if d.decision == "confirmed":
                confirmed[owner[i]] = True
                if judged.stance(i, d.narrative_id) == "asserts":
                    carried[owner[i]].add(d.narrative_id)
    hits = judged.term_hits
    if judges.threshold is None:  # the set declares no event: every document is in scope
        head = np.ones(len(texts), dtype=bool)
    else:
        head = judged.event_scores >= judges.threshold
    return Counted(
        confirmed=confirmed,
        in_scope=(np.bincount(owner[hits | head], minlength=n_docs) > 0) & window,
        head_scope=(np.bincount(owner[head], minlength=n_docs) > 0) & window,
        terms=np.bincount(owner[hits], minlength=n_docs) > 0,
        carried=carried,
    )
