"""Stance of a matched passage towards its narrative: `asserts` (carries it), `refutes` (denies
or debunks it, or reports it in order to reject it) or `reports` (attributes it neutrally,
"Russian officials claimed...").

The stance head is a multinomial logistic regression, trained on the set itself: every
narrative's exemplars are `asserts`, its counter-exemplars `refutes`; the shipped stance bank
(`narratives/background/stance-v2.yaml`, written for this project in EN/RU/UK on subjects of its
own) adds generic assertions (some phrased as denials: "there was no attack"; some carried by
endorsed attribution: "investigators have confirmed that...", since v2: without them the head took
any attribution for distance from the claim), generic refutations and neutral news reports. Stance is a property of how a passage speaks, mostly
independent of which narrative it speaks about, so one head serves all narratives.

What it reads of a passage (`features`):
- its context vector: the passage's vector averaged with those of the passages up to
  `Settings.stance_context` places before and after it in the same document, L2-normalised. A refutation seldom sits in the
  sentence that restates the claim: it is the "There is no evidence for this" next to it. Without
  `documents` every passage stands alone;
- one count: debunk cues in that context (`REFUTE_CUES`: "no evidence", "fake", "in fact",
  "disinformation"... in EN/RU/UK), as log(1 + count) times `CUE_WEIGHT`.
Measured on EUvsDisinfo dev by 5-fold cross-validation grouped by case (benchmarks/trust.py,
docs/trust.md), with stance_c 10: the context window took refutation leakage from 0.13 to 0.08 and
assert recall from 0.875 to 0.90; the cue count added about 0.01 of recall; negation and
attribution counts did not help (claims are often denials themselves) and are not used.
The match step gets the context only when it passes `documents` to `predict`.

With analysts' stance verdicts (20 asserting and 20 refuting (document, narrative) pairs or more),
`StanceHead.calibrate` moves the `asserts` decision to where, by cross-validation grouped by
document, missed claims and counted refutations are equally frequent (EUvsDisinfo dev CV: recall
0.888 -> 0.922, leakage 0.072 -> 0.098; docs/trust.md).

The head is one for all narratives, so it cannot see that "the IS label only hides Kyiv's hand"
asserts one narrative while refuting its rival. `CounterCheck` adds what the set knows about
each narrative: where a narrative has counter-exemplars, a passage the head finds asserting is
counted as refuting that narrative when it lies nearer the centroid of the narrative's
counter-exemplars than that of its exemplars (no constant: the two unit centroids are compared).
On the demo it took the refuting/reporting documents counted as carrying from 18 to 7 of 66 (the
demo flatters it: docs/trust.md says where it errs);
EUvsDisinfo's one-claim sets have no counter-exemplars, so (b) of docs/trust.md is unchanged;
on EUvsDisinfo themes with real debunks as counter-exemplars (benchmarks/counter_check.py) it
took leakage from about 0.18 to 0.08 and cost about 0.09 of assert recall.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources

import numpy as np

from narratives.core.settings import Settings
from narratives.matching.sets import NarrativeSet

STANCE = "stance-head-v2"  # named in run records
COUNTER = "counter-centroid-v1"  # the per-narrative check, named beside it
STANCES = ("asserts", "refutes", "reports")
STANCE_BANK = "stance-v2"
CALIBRATION = "equal-error-cv-v1"  # named in run records when Settings.stance_calibration is on
# Calibration needs this many labelled `asserts` and as many `refutes` (an error rate measured on
# fewer is noise; the audit correction asks for 20 labels too), in this many groups at least
# (the folds of its grouped cross-validation).
CALIBRATION_MIN = 20
CALIBRATION_FOLDS = 4
CUE_WEIGHT = 1.0  # scale of the debunk-cue feature next to the unit context vector

# Words and phrases of debunking and fact-checking, matched case-insensitively at the start of a
# word (so stems find inflected forms). Generic on purpose: no names, no topics.
REFUTE_CUES: dict[str, tuple[str, ...]] = {
    "en": ("no evidence", "no proof", "not true", "untrue", "false", "fake", "disinformation",
           "misinformation", "propaganda", "conspiracy", "debunk", "myth", "baseless", "unfounded",
           "fabricat", "in fact", "in reality", "actually", "contrary", "denied", "denies", "deny",
           "reject", "refute", "misleading", "manipulat", "hoax",
           "nothing to do with", "there is no", "no sign"),
    "ru": ("нет доказательств", "доказательств нет", "никаких доказательств", "не соответству",
           "ложь", "ложн", "фейк", "дезинформац", "пропаганд", "конспиролог", "теория заговора",
           "теории заговора", "миф", "безосновательн", "голословн", "выдум", "сфабрикова",
           "на самом деле", "в действительности", "опроверг", "отрица", "отверг", "манипуляц",
           "не имеет отношения", "вопреки", "неправд"),
    "uk": ("немає доказів", "доказів немає", "жодних доказів", "не відповіда", "брехн",
           "неправд", "фейк", "дезінформац", "пропаганд", "теорія змови", "теорії змови", "міф",
           "безпідставн", "вигад", "сфабрикова", "насправді", "спростов", "спростув", "заперечу",
           "заперечи", "відкину", "відкида", "маніпуляц", "не має стосунку", "всупереч"),
}  # fmt: skip
_CUES = re.compile(
    r"(?<!\w)(?:"
    + "|".join(
        re.escape(c)
        for c in sorted({c for cs in REFUTE_CUES.values() for c in cs}, key=len, reverse=True)
    )  # fmt: skip
    + ")",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def stance_bank() -> dict[str, dict[str, tuple[str, ...]]]:
    """{stance: {lang: sentences}} shipped with the package."""
    import yaml

    path = resources.files("narratives") / "background" / f"{STANCE_BANK}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {s: {lang: tuple(t) for lang, t in by_lang.items()} for s, by_lang in data.items()}


def training_texts(nset: NarrativeSet) -> tuple[list[str], list[str]]:
    """(texts, stances) the head learns from."""
    texts, labels = [], []

    def add(group: dict, stance: str) -> None:
        for sentences in group.values():
            texts.extend(sentences)
            labels.extend([stance] * len(sentences))

    for n in nset.narratives:
        add(n.exemplars, "asserts")
        add(n.counter_exemplars, "refutes")
    for stance, group in stance_bank().items():
        add(group, stance)
    return texts, labels


def _windows(n: int, documents: Sequence | None, window: int) -> list[np.ndarray]:
    """For each row, the rows of its context: rows with the same document key whose position
    among that document's rows (in the order given) is within `window`; a None key stands alone."""
    if documents is None or window <= 0:
        return [np.array([i]) for i in range(n)]
    if len(documents) != n:
        raise ValueError(f"documents has {len(documents)} keys for {n} rows")
    rows: dict = {}
    for i, key in enumerate(documents):
        if key is not None:
            rows.setdefault(key, []).append(i)
    out = [np.array([i]) for i in range(n)]
    for members in rows.values():
        members = np.array(members)
        for j, i in enumerate(members):
            out[i] = members[max(0, j - window) : j + window + 1]
    return out


def context_vectors(vectors: np.ndarray, documents: Sequence | None = None,
                    window: int = 0) -> np.ndarray:  # fmt: skip
    """Each row's vector averaged with its context rows (see `_windows`), L2-normalised."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if documents is None or window <= 0 or len(vectors) == 0:
        return vectors
    out = np.vstack([vectors[w].mean(axis=0) for w in _windows(len(vectors), documents, window)])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1)).astype(np.float32)


def cue_counts(texts: Sequence[str]) -> np.ndarray:
    """Debunk cues in each text (any tracked language)."""
    return np.array([len(_CUES.findall(t)) for t in texts], dtype=np.float32)


def features(vectors: np.ndarray, texts: Sequence[str] | None = None,
             documents: Sequence | None = None, window: int = 0) -> np.ndarray:  # fmt: skip
    """What the head reads of each row: its context vector (`window` passages either side) and
    the debunk cues of its context text (zero without `texts`)."""
    ctx = context_vectors(vectors, documents, window)
    if texts is None:
        cues = np.zeros(len(ctx), dtype=np.float32)
    else:
        if len(texts) != len(ctx):
            raise ValueError(f"{len(texts)} texts for {len(ctx)} vectors")
        wins = _windows(len(texts), documents, window)
        cues = cue_counts([" ".join(texts[j] for j in w) for w in wins])
    return np.hstack([ctx, CUE_WEIGHT * np.log1p(cues)[:, None]]).astype(np.float32)


class StanceHead:
    """`fit` on training texts' vectors (and the texts, for the cue feature); `predict` for
    passages. `documents` (optional, both methods): a key per row naming its document, rows of a
    document in their order in it (as the match step reads passages, by id); each passage is then
    judged among its neighbours. Texts and documents given to one method should be given to the
    other the same way (training texts have no document: pass None for them, or no documents)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.model = None
        self.bias = 0.0  # added to the log-probability of `asserts` before the argmax
        self.calibrated_on = 0  # labelled units the bias was measured on (0: none)
        self.unit_margins: dict[str, np.ndarray] = {}  # their cross-validated margins, by truth

    def fit(self, vectors: np.ndarray, stances: list[str], texts: list[str] | None = None,
            documents: Sequence | None = None, groups: Sequence | None = None,
            units: Sequence | None = None, judged: Sequence[bool] | None = None) -> StanceHead:  # fmt: skip
        """`groups`, `units`, `judged`: what is known of rows from labelled coverage (analysts'
        verdicts, a benchmark's labels), one entry per row. `groups`: what a row may not be
        split from in cross-validation (its document, a case), None for the set's and the
        bank's texts; `units`: what a count counts (a unit is counted when one of its judged
        rows asserts; default: the row's group); `judged`: the rows a count would judge (those
        the matcher confirms; default: all). With enough labelled rows, and
        `Settings.stance_calibration`, the `asserts` decision is moved to the equal-error point
        (`calibrate`)."""
        x = features(vectors, texts, documents, self.settings.stance_context)
        self.model = self._regression(x, list(stances))
        if groups is not None and self.settings.stance_calibration:
            self.calibrate(x, list(stances), list(groups), units, judged)
        return self

    def _regression(self, x: np.ndarray, stances: list[str]):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.settings.stance_c, class_weight="balanced",
                                  max_iter=5000).fit(x, stances)  # fmt: skip

    def calibrate(self, x: np.ndarray, stances: list[str], groups: list,
                  units: Sequence | None = None, judged: Sequence[bool] | None = None) -> None:  # fmt: skip
        """Labelled rows (those with a group) make units (`units`, default their group) whose
        truth is their rows' label (units whose rows disagree are left out). Where there are at
        least `CALIBRATION_MIN` asserting and as many refuting units, in `CALIBRATION_FOLDS`
        groups or more: each labelled row's `asserts` margin (`asserts_margin`) comes from a head
        fitted without its group (grouped cross-validation, the unlabelled rows always in); a
        unit's margin is the largest of its judged rows' (none judged: never counted); the bias
        is the one at which the share of asserting units missed equals the share of refuting
        units counted (`equal_error_bias`)."""
        from sklearn.model_selection import GroupKFold

        labelled = np.array([i for i, g in enumerate(groups) if g is not None], dtype=int)
        y = np.array(stances, dtype=object)
        unit_of = [groups[i] if units is None else units[i] for i in labelled]
        kind: dict = {}
        for u, i in zip(unit_of, labelled, strict=True):
            kind[u] = y[i] if kind.get(u, y[i]) == y[i] else "mixed"
        keys = [groups[i] for i in labelled]
        counts = [sum(k == s for k in kind.values()) for s in ("asserts", "refutes")]
        if min(counts) < CALIBRATION_MIN or len(set(keys)) < CALIBRATION_FOLDS:
            return
        base = np.array([i for i, g in enumerate(groups) if g is None], dtype=int)
        margins = np.zeros(len(labelled))
        for train, test in GroupKFold(CALIBRATION_FOLDS).split(labelled, groups=keys):
            rows = np.concatenate([base, labelled[train]])
            model = self._regression(x[rows], list(y[rows]))
            margins[test] = asserts_margin(
                list(model.classes_), model.predict_proba(x[labelled[test]])
            )
        best = dict.fromkeys(kind, -np.inf)  # a unit none of whose rows is judged: never counted
        for j, (u, i) in enumerate(zip(unit_of, labelled, strict=True)):
            if judged is None or judged[i]:
                best[u] = max(best[u], margins[j])
        on = {
            s: np.array([best[u] for u, k in kind.items() if k == s])
            for s in ("asserts", "refutes")
        }
        self.bias = equal_error_bias(on["asserts"], on["refutes"])
        self.calibrated_on, self.unit_margins = sum(counts), on

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None,
                      documents: Sequence | None = None) -> tuple[list[str], np.ndarray]:  # fmt: skip
        """(classes, probability matrix: rows x classes)."""
        classes = list(self.model.classes_)
        if len(vectors) == 0:
            return classes, np.zeros((0, len(classes)), dtype=np.float32)
        x = features(vectors, texts, documents, self.settings.stance_context)
        return classes, self.model.predict_proba(x)

    def predict(self, vectors: np.ndarray, texts: list[str] | None = None,
                documents: Sequence | None = None) -> tuple[list[str], np.ndarray]:  # fmt: skip
        """(stance, its probability) per passage (`texts`: the passages' texts, same order)."""
        if len(vectors) == 0:
            return [], np.zeros(0, dtype=np.float32)
        classes, proba = self.probabilities(vectors, texts, documents)
        logp = np.log(np.clip(proba, 1e-12, None))
        logp[:, classes.index("asserts")] += self.bias
        best = logp.argmax(axis=1)
        return [classes[i] for i in best], proba[np.arange(len(best)), best].astype(np.float32)


def asserts_margin(classes: list[str], proba: np.ndarray) -> np.ndarray:
    """Per row, log P(asserts) minus the largest log-probability of another stance: the row is
    judged asserting when this plus the head's bias is >= 0."""
    logp = np.log(np.clip(proba, 1e-12, None))
    a = classes.index("asserts")
    others = np.delete(logp, a, axis=1)
    return logp[:, a] - others.max(axis=1)


def equal_error_bias(asserting: np.ndarray, refuting: np.ndarray) -> float:
    """The bias b at which the share of asserting margins below -b (missed) is nearest the share
    of refuting margins at or above -b (let through); of several such, the nearest to 0. With
    as many claims as refutations, counting at that point neither over- nor under-counts."""
    asserting, refuting = np.asarray(asserting, float), np.asarray(refuting, float)
    candidates = np.concatenate([[0.0], -asserting, -refuting])
    candidates = np.unique(candidates[np.isfinite(candidates)])
    # missed: asserting margins below -b; let through: refuting margins at or above -b
    missed = np.searchsorted(np.sort(asserting), -candidates, side="left") / len(asserting)
    through = 1 - np.searchsorted(np.sort(refuting), -candidates, side="left") / len(refuting)
    gap = np.abs(missed - through)
    best = np.flatnonzero(gap == gap.min())
    return float(candidates[best[np.argmin(np.abs(candidates[best]))]])


class CounterCheck:
    """Per narrative with counter-exemplars, the unit centroids of its exemplars and of its
    counter-exemplars; `nearer_counter` names, for each passage, the narratives (among those
    asked) whose counter-exemplars it is nearer to."""

    def __init__(self):
        self.centroids: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def fit(self, nset: NarrativeSet, vector_of: Mapping[str, np.ndarray]) -> CounterCheck:
        """`vector_of`: each exemplar's and counter-exemplar's vector, by text."""
        for n in nset.narratives:
            counter = [t for texts in n.counter_exemplars.values() for t in texts]
            claims = [t for texts in n.exemplars.values() for t in texts]
            if counter and claims:
                self.centroids[n.id] = (unit_mean([vector_of[t] for t in claims]),
                                        unit_mean([vector_of[t] for t in counter]))  # fmt: skip
        return self

    def nearer_counter(self, vectors: np.ndarray, narratives: Sequence[Sequence[str]]
                       ) -> list[frozenset[str]]:  # fmt: skip
        out = []
        for v, ids in zip(vectors, narratives, strict=True):
            out.append(frozenset(
                n for n in ids
                if n in self.centroids and float(v @ self.centroids[n][1]) > float(v @ self.centroids[n][0])
            ))  # fmt: skip
        return out


def unit_mean(vectors: list[np.ndarray]) -> np.ndarray:
    mean = np.mean(np.vstack(vectors), axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


def parameters(settings: Settings) -> dict:
    return {"stance_c": settings.stance_c, "stance_bank": STANCE_BANK, "stance_context": settings.stance_context,
            "stance_cue_weight": CUE_WEIGHT,
            "stance_counter_check": COUNTER if settings.stance_counter_check else None,
            "stance_calibration": CALIBRATION if settings.stance_calibration else None}  # fmt: skip
