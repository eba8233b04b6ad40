"""The exemplar bank: the vectors a narrative set is matched with, one row per exemplar or
description, plus the set's background (neutral coverage of its topic) and the generic news
background shipped with the package."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from narratives.matching.sets import NarrativeSet
from narratives.vectors.store import embed_cached

# The e5 role the exemplars are embedded with. Passages are stored with the "passage" role;
# measured on the demo corpus and on SemEval/VoxCheck (docs/matching.md), exemplars embedded as
# "passage" too (a symmetric comparison) beat the asymmetric query->passage use.
EXEMPLAR_ROLE = "passage"
BACKGROUND = "_background"  # bank rows of the set's neutral coverage (never a narrative slug)
# neutral everyday news shipped with the package, matched as background with every set (named
# in run records): without it a set of two narratives would split unrelated text between them
GENERIC_BACKGROUND = "generic-news-v1"


@dataclass(frozen=True)
class LabelledExamples:
    """Passages analysts labelled (the review queue's uncertain stream), as extra examples for
    the heads that learn (`exemplar-head`): built by `narratives.labels.queries`."""

    vectors: np.ndarray
    narrative_ids: list[str]  # the narrative each verdict was given for
    positive: np.ndarray  # bool: speaks of that narrative (asserts, refutes or reports it)
    none: np.ndarray  # bool: "none of the set's narratives": a negative for every narrative
    texts: list[str]  # the passages' texts (the stance head's cue feature reads them)
    verdicts: list[str]  # asserts | refutes | reports | no | none
    documents: list[str]  # the labelled passage's document (content hash): a group in CV
    counts: dict  # verdict -> labels, for the run record
    fingerprint: str  # changes when the labels do: the match step then scores again

    def targets(self, narrative_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, 0/1 targets) of the examples that say something of `narrative_id`: its own
        verdicts; `none`; and positives of other narratives (negatives here, as other
        narratives' exemplars are). A `no` for another narrative says nothing of this one."""
        ids = np.array(self.narrative_ids)
        own = ids == narrative_id
        use = own | self.none | (self.positive & ~own)
        return np.flatnonzero(use), (own & self.positive)[use].astype(int)

    def stances(self) -> tuple[np.ndarray, list[str], list[str], list[str], list[tuple]]:
        """(vectors, texts, stances, documents, (document, narrative) pairs) of the labelled
        passages that carry a stance verdict: more examples for the stance head, in the
        coverage's own words; the pairs are what a count counts."""
        keep = [i for i, v in enumerate(self.verdicts) if v in ("asserts", "refutes", "reports")]
        return (self.vectors[keep], [self.texts[i] for i in keep],
                [self.verdicts[i] for i in keep], [self.documents[i] for i in keep],
                [(self.documents[i], self.narrative_ids[i]) for i in keep])  # fmt: skip


@dataclass
class ExemplarBank:
    """The vectors a set is matched with: one row per exemplar or description, and the
    analysts' labelled passages when there are any."""

    narrative_ids: list[str]  # a narrative's id, or BACKGROUND
    langs: list[str]
    texts: list[str]
    vectors: np.ndarray
    labelled: LabelledExamples | None = None

    def training(self, narrative_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, 0/1 targets) a head for one narrative learns from: the bank's rows (its
        exemplars positive, the rest negative) and the labelled passages that speak to it."""
        y = (np.array(self.narrative_ids) == narrative_id).astype(int)
        if self.labelled is None:
            return self.vectors, y
        rows, targets = self.labelled.targets(narrative_id)
        return (np.vstack([self.vectors, self.labelled.vectors[rows]]),
                np.concatenate([y, targets]))  # fmt: skip

    @classmethod
    def texts_of(cls, nset: NarrativeSet) -> tuple[list[str], list[str], list[str]]:
        ids, langs, texts = [], [], []
        for n in nset.narratives:
            if n.status != "active":
                continue
            ids.append(n.id)
            langs.append("en")  # descriptions are written in English by convention
            texts.append(n.description)
            # counter-exemplars speak of the narrative too (to deny it): a refutation is matched
            # to the narrative it refutes, and its stance (narratives.matching.stance) keeps it
            # from being counted as carrying it
            for group in (n.exemplars, n.counter_exemplars):
                for lang, examples in group.items():
                    for t in examples:
                        ids.append(n.id)
                        langs.append(lang)
                        texts.append(t)
        for background in (nset.background, generic_background()):
            for lang, examples in background.items():
                for t in examples:
                    ids.append(BACKGROUND)
                    langs.append(lang)
                    texts.append(t)
        return ids, langs, texts

    def groups(self) -> list[tuple]:
        """A key per row shared by translations of one exemplar: (narrative, position within
        its language); descriptions are their own group. Used to leave a whole exemplar out."""
        seen: dict[tuple, int] = {}
        out = []
        for i, (nid, lang) in enumerate(zip(self.narrative_ids, self.langs, strict=True)):
            first = i == 0 or self.narrative_ids[i - 1] != nid
            if first and nid != BACKGROUND:
                out.append((nid, "description"))
                continue
            seq = seen.get((nid, lang), 0)
            seen[(nid, lang)] = seq + 1
            out.append((nid, seq))
        return out


@lru_cache(maxsize=1)
def generic_background() -> dict[str, tuple[str, ...]]:
    import yaml

    path = resources.files("narratives") / "background" / f"{GENERIC_BACKGROUND}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {lang: tuple(texts) for lang, texts in data.items()}


def active_ids(nset: NarrativeSet) -> list[str]:
    return [n.id for n in nset.narratives if n.status == "active"]


def embed_bank(con, nset: NarrativeSet, embedder) -> tuple[ExemplarBank, int]:
    """The set's bank with its vectors from the cache in `con` (embedding only what is new);
    returns the bank and how many texts were embedded."""
    ids, langs, texts = ExemplarBank.texts_of(nset)
    vectors, new = embed_cached(con, embedder, texts, EXEMPLAR_ROLE)
    return ExemplarBank(ids, langs, texts, vectors), new
