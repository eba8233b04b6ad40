"""Scoring passages against a narrative set, deciding, and keeping the evidence.

Each narrative is represented by its exemplars (any language) and its description. A scorer
turns passage vectors into a (passages x narratives) score matrix; a decision compares each score
with the narrative's threshold: `confirmed` at or above it, `suggested` within `suggest_margin`
below it (the grey zone an analyst reviews), else `rejected`, so a passage close to no narrative
is not forced into one. The nearest exemplar and the margin over the runner-up narrative are kept
as evidence.

Scorers (registered by name; the name is written into each run's record):
- `max-exemplar`: the cosine to the nearest exemplar or description of the narrative.
- `lang-balanced`: the nearest exemplar is taken within each exemplar language, and the
  narrative's score is the mean of those per-language maxima, so a narrative whose exemplars are
  mostly in the passage's own language is not favoured over one written in another language
  (e5 scores same-language pairs higher).
- `exemplar-head` (the default): a logistic regression per narrative trained on the bank itself:
  the narrative's exemplars and description are the positives, the other narratives' exemplars and
  the set's background the negatives. Its score is a probability (0.5 means "as likely as not"):
  it learns which directions of the embedding tell this narrative from on-topic text that does not
  carry it, where a cosine mostly measures topic. No labelled documents are needed; the YAML
  thresholds (cosines) do not apply to it, `HEAD_THRESHOLD` or a calibration does.
- `knn-vote`: the K nearest bank rows (exemplars, descriptions, background) vote for their
  narrative with their cosine; a narrative's score is the sum of its votes (0 without one), so a
  narrative backed by several close exemplars beats one with a single lucky neighbour.
- `relative`: `max-exemplar` minus the passage's mean score over all narratives of the set plus a
  constant (`RELATIVE_OFFSET`), so "close to everything" (on-topic but generic text) is not
  "close to this narrative". The offset only keeps scores in the same range as cosines.

When the set has a `background` (neutral coverage of its topic), a passage closer to the background
than to a narrative gets that narrative's score minus 1 (shown negative in `matches`), so no
threshold confirms it: the "none of these" outcome for on-topic text that carries no narrative.

Thresholds come from the set's YAML unless a calibration (fitted per narrative, see
`narratives.calibration`) is handed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from narratives.centring import centre_by_language
from narratives.definitions import NarrativeSet

# The e5 role the exemplars are embedded with. Passages are stored with the "passage" role;
# measured on the demo corpus and on SemEval/VoxCheck (docs/matching.md), exemplars embedded as
# "passage" too (a symmetric comparison) beat the asymmetric query->passage use.
EXEMPLAR_ROLE = "passage"
RELATIVE_OFFSET = 0.85
BACKGROUND = "_background"  # bank rows of the set's neutral coverage (never a narrative slug)
GATED = 1.0  # subtracted from a narrative's score where the background is closer
# neutral everyday news shipped with the package, matched as background with every set (named
# in run records): without it a set of two narratives would split unrelated text between them
GENERIC_BACKGROUND = "generic-news-v1"
HEAD_THRESHOLD = 0.5  # exemplar-head: probability at which a passage is confirmed
HEAD_SUGGEST_BAND = (
    0.2  # exemplar-head: "suggested" from 0.3 (Settings.suggest_margin is for cosines)
)
# exemplar-head regularisation, chosen on VoxCheck and SemEval dev (docs/matching.md), not the demo
HEAD_C = 10.0
KNN_K = 5  # knn-vote: neighbours that vote (3/5/8 measured on VoxCheck, docs/matching.md)


@dataclass
class ExemplarBank:
    """The vectors a set is matched with: one row per exemplar or description."""

    narrative_ids: list[str]  # a narrative's id, or BACKGROUND
    langs: list[str]
    texts: list[str]
    vectors: np.ndarray

    @classmethod
    def texts_of(cls, nset: NarrativeSet) -> tuple[list[str], list[str], list[str]]:
        ids, langs, texts = [], [], []
        for n in nset.narratives:
            if n.status != "active":
                continue
            ids.append(n.id)
            langs.append("en")  # descriptions are written in English by convention
            texts.append(n.description)
            for lang, examples in n.exemplars.items():
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


@lru_cache(maxsize=1)
def generic_background() -> dict[str, tuple[str, ...]]:
    import yaml

    path = resources.files("narratives") / "background" / f"{GENERIC_BACKGROUND}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {lang: tuple(texts) for lang, texts in data.items()}


def active_ids(nset: NarrativeSet) -> list[str]:
    return [n.id for n in nset.narratives if n.status == "active"]


def _similarities(passage_vectors: np.ndarray, bank: ExemplarBank) -> np.ndarray:
    """Cosines of every passage to every bank row (vectors are L2-normalised), through a FAISS
    flat inner-product index: exact, and it batches the product without a dense copy per call."""
    import faiss

    n, r = len(passage_vectors), len(bank.texts)
    if n == 0 or r == 0:
        return np.zeros((n, r), dtype=np.float32)
    index = faiss.IndexFlatIP(bank.vectors.shape[1])
    index.add(np.ascontiguousarray(bank.vectors, dtype=np.float32))
    sims, rows = index.search(np.ascontiguousarray(passage_vectors, dtype=np.float32), r)
    out = np.empty_like(sims)
    np.put_along_axis(out, rows, sims, axis=1)  # back to bank-row order
    return out


def narrative_scores(
    passage_vectors: np.ndarray, bank: ExemplarBank, order: list[str], method: str = "max"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, nearest-row, background) for n passages and m narratives: scores and nearest
    are (n, m); background is each passage's best cosine to the set's background (-inf without).

    method `max`: the best cosine over the narrative's rows; `lang-balanced`: the mean over the
    narrative's exemplar languages of the best cosine within each language. `nearest` is always
    the row of the single best cosine (the evidence shown to analysts)."""
    n, m = len(passage_vectors), len(order)
    scores = np.full((n, m), -1.0, dtype=np.float32)
    nearest = np.full((n, m), -1, dtype=np.int64)
    background = np.full(n, -np.inf, dtype=np.float32)
    sims = _similarities(passage_vectors, bank)
    if sims.shape[1] == 0 or n == 0:
        return scores, nearest, background
    ids = np.array(bank.narrative_ids)
    langs = np.array(bank.langs)
    for j, nid in enumerate(order):
        rows = np.flatnonzero(ids == nid)
        if len(rows) == 0:
            continue
        block = sims[:, rows]
        nearest[:, j] = rows[block.argmax(axis=1)]
        if method == "lang-balanced":
            per_lang = [
                block[:, langs[rows] == lang].max(axis=1) for lang in np.unique(langs[rows])
            ]
            scores[:, j] = np.mean(per_lang, axis=0)
        else:
            scores[:, j] = block.max(axis=1)
    if (ids == BACKGROUND).any():
        background = sims[:, ids == BACKGROUND].max(axis=1)
    return scores, nearest, background


def score_matrix(
    passage_vectors: np.ndarray,
    bank: ExemplarBank,
    order: list[str],
    scorer: str,
    *,
    passage_langs=None,
    lang_means: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, nearest-row) of a registered scorer (see the module docstring), with the
    background gate applied. With `lang_means` (and the passages' languages), passages and bank
    rows are first centred by language (`centre_by_language`)."""
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose one of {sorted(SCORERS)}")
    if lang_means:
        if passage_langs is None or len(passage_langs) != len(passage_vectors):
            raise ValueError("centring by language needs each passage's language")
        passage_vectors = centre_by_language(passage_vectors, passage_langs, lang_means)
        bank = ExemplarBank(
            bank.narrative_ids, bank.langs, bank.texts,
            centre_by_language(bank.vectors, bank.langs, lang_means),
        )  # fmt: skip
    if scorer == "knn-vote":
        return knn_vote_scores(passage_vectors, bank, order)
    if scorer == "exemplar-head":
        return head_scores(passage_vectors, bank, order)
    method = "lang-balanced" if scorer == "lang-balanced" else "max"
    scores, nearest, background = narrative_scores(passage_vectors, bank, order, method)
    closer = background[:, None] >= scores
    if scorer == "relative" and len(order) > 1:
        scores = scores - scores.mean(axis=1, keepdims=True) + RELATIVE_OFFSET
    return np.where(closer, scores - GATED, scores).astype(np.float32), nearest


def knn_vote_scores(
    passage_vectors: np.ndarray, bank: ExemplarBank, order: list[str], k: int = KNN_K
) -> tuple[np.ndarray, np.ndarray]:
    """(votes, nearest-row): each narrative's summed cosines among the passage's k nearest bank
    rows; background rows vote too, and a passage whose background votes are at least a
    narrative's gets that narrative's score minus GATED."""
    _, nearest, _ = narrative_scores(passage_vectors, bank, order, "max")
    sims = _similarities(passage_vectors, bank)
    votes = np.zeros((len(passage_vectors), len(order)), dtype=np.float32)
    if sims.shape[1] == 0 or len(passage_vectors) == 0:
        return votes, nearest
    column = {nid: j for j, nid in enumerate(order)}
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    background = np.zeros(len(passage_vectors), dtype=np.float32)
    for i, rows in enumerate(top):
        for r in rows:
            nid = bank.narrative_ids[r]
            if nid == BACKGROUND:
                background[i] += sims[i, r]
            elif nid in column:
                votes[i, column[nid]] += sims[i, r]
    closer = (background[:, None] > 0) & (background[:, None] >= votes)
    return np.where(closer, votes - GATED, votes).astype(np.float32), nearest


def head_scores(
    passage_vectors: np.ndarray, bank: ExemplarBank, order: list[str], c: float = HEAD_C
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, nearest-row) from one logistic regression per narrative fitted on the
    bank (see the module docstring); nearest is the max-cosine row, kept as evidence."""
    from sklearn.linear_model import LogisticRegression

    _, nearest, _ = narrative_scores(passage_vectors, bank, order, "max")
    out = np.zeros((len(passage_vectors), len(order)), dtype=np.float32)
    ids = np.array(bank.narrative_ids)
    for j, nid in enumerate(order):
        y = (ids == nid).astype(int)
        if len(passage_vectors) == 0 or y.sum() in (0, len(y)):
            continue  # nothing to tell it from: never confirmed
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        model.fit(bank.vectors, y)
        out[:, j] = model.predict_proba(passage_vectors)[:, 1]
    return out, nearest


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


def thresholds_for(
    nset: NarrativeSet, order: list[str], calibrated: dict | None, scorer: str = "max-exemplar"
) -> np.ndarray:
    """Per-narrative thresholds: a fitted calibration where it has one, else the YAML's (cosine
    scorers) or HEAD_THRESHOLD (the exemplar head's probabilities)."""
    calibrated = calibrated or {}
    default = {
        n: HEAD_THRESHOLD if scorer == "exemplar-head" else nset.get(n).threshold for n in order
    }
    return np.array([calibrated.get(n, default[n]) for n in order], dtype=np.float32)


def _scorer(name: str) -> Callable[..., list[list[Decision]]]:
    def run(
        passage_vectors: np.ndarray,
        bank: ExemplarBank,
        nset: NarrativeSet,
        *,
        top_k: int = 3,
        suggest_margin: float = 0.03,
        thresholds: dict | None = None,
    ) -> list[list[Decision]]:
        order = active_ids(nset)
        if name == "exemplar-head":
            suggest_margin = HEAD_SUGGEST_BAND
        scores, nearest = score_matrix(passage_vectors, bank, order, name)
        return decisions_from_scores(
            scores, nearest, bank, order, thresholds_for(nset, order, thresholds, name),
            top_k=top_k, suggest_margin=suggest_margin,
        )  # fmt: skip

    run.__name__ = name.replace("-", "_")
    return run


SCORERS: dict[str, Callable[..., list[list[Decision]]]] = {
    name: _scorer(name)
    for name in ("exemplar-head", "max-exemplar", "lang-balanced", "relative", "knn-vote")
}
max_exemplar = SCORERS["max-exemplar"]


def scorer_parameters(name: str) -> dict:
    """The constants a scorer's numbers depend on, for run records."""
    out = {"exemplar_role": EXEMPLAR_ROLE}
    if name == "exemplar-head":
        out |= {"head_c": HEAD_C, "head_threshold": HEAD_THRESHOLD, "head_suggest_band": HEAD_SUGGEST_BAND}  # fmt: skip
    if name == "relative":
        out["relative_offset"] = RELATIVE_OFFSET
    if name == "knn-vote":
        out["knn_k"] = KNN_K
    return out


def get_scorer(name: str):
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; choose one of {sorted(SCORERS)}")
    return SCORERS[name]


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
