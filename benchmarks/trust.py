"""Can a count be trusted? Event scope and stance on real text, one table.

(a) Off-topic false positives: ordinary news (NTREX-128 documents in EN/RU/UK, SemEval-2025
    `Other` articles in EN/RU) that carries no Crocus narrative. Share of documents the tracker
    would count: a passage confirmed for a narrative AND asserting it AND the document in scope;
    next to it the share counted before scope and stance (any passage confirmed).
(b) Stance on EUvsDisinfo: each case's title is the claim, its summary `asserts` it and its
    disproof `refutes` it. Each text is counted as carrying the claim when one of its passages is
    confirmed for the claim (the exemplar head on a set of that one claim) AND asserts it. Assert
    recall and refutation leakage, for the shipped stance head (zero-shot) and for the head trained
    with EUvsDisinfo labels (k-fold cross-validation grouped by case); each also with passages
    judged without their document's context (as the match step judges them without `documents`).
(c) The demo corpus: share of labelled documents (gold_narratives or gold_stance) in scope, by
    key term and by the event head alone; share of its ordinary-news documents in scope; and of
    (document, narrative) gold pairs, the share counted when gold asserts and when it does not.
Results and method: docs/trust.md.

Everything goes through the pipeline's own functions (split, embed, scorer, scope, stance); the
datasets are read from their own files at run time and nothing of them is written to the
repository. Vectors are cached in <home>/trust.duckdb, so a re-run embeds nothing new.

    .venv/bin/python benchmarks/trust.py --ntrex ../shared/eval/ntrex128/dev.jsonl \\
        --semeval ../shared/eval/semeval2025_t10/dev.jsonl \\
        --euvsdisinfo ../shared/eval/euvsdisinfo_stance/dev.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from narratives.core.settings import Settings  # noqa: E402
from narratives.evaluation.counted import count_documents, in_window  # noqa: E402
from narratives.matching import scope, stance  # noqa: E402
from narratives.matching.bank import ExemplarBank, embed_bank  # noqa: E402
from narratives.matching.base import get_scorer  # noqa: E402
from narratives.matching.judges import Judges  # noqa: E402
from narratives.matching.sets import Event, Narrative, NarrativeSet, load_set  # noqa: E402
from narratives.passages.split import split  # noqa: E402

LANGS = ("en", "ru", "uk")
TARGETS = {"ntrex": 0.02, "semeval": 0.05, "recall": 0.90, "leakage": 0.10}
# Used only when the set declares no event of its own: the set's event as the benchmark assumes
# it (the shipped set's `event` block replaces it as soon as it has one).
MEASURING_EVENT = Event(
    description=(
        "The terrorist attack on the Crocus City Hall concert venue in Krasnogorsk near Moscow on "
        "22 March 2024: the shooting and the fire, the victims, the suspects, the investigation "
        "and the competing claims about who was behind it."
    ),
    start=dt.date(2024, 3, 7),
    end=None,
    terms={
        "en": ("Crocus", "Krasnogorsk"),
        "ru": ("Крокус", "Красногорск"),
        "uk": ("Крокус", "Красногорськ"),
    },
)


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


def wilson(x: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(flags) -> dict:
    flags = np.asarray(flags, dtype=bool)
    x, n = int(flags.sum()), len(flags)
    lo, hi = wilson(x, n)
    return {"x": x, "n": n, "share": x / n if n else float("nan"), "lo": lo, "hi": hi}


def fmt(s: dict, spread: tuple[float, float] | None = None) -> str:
    out = f"{s['share']:.3f} [{s['lo']:.3f}, {s['hi']:.3f}] ({s['x']}/{s['n']})"
    if spread is not None:
        out += f", folds {spread[0]:.2f}-{spread[1]:.2f}"
    return out


@dataclass
class Doc:
    id: str
    text: str
    lang: str
    date: dt.date | None = None
    group: str = ""  # cross-validation group (EUvsDisinfo case)
    label: str = ""  # EUvsDisinfo stance; "gold" for a demo document with gold labels
    gold: dict = field(default_factory=dict)  # demo: {narrative: stance} (gold_narratives assert)


class Tracker:
    """The match step's decisions for a set, on documents held in memory: split, embed (cached),
    the configured scorer, the event scope and the stance head, as the pipeline applies them."""

    def __init__(self, con, embedder, settings: Settings, nset: NarrativeSet):
        self.con, self.embedder, self.settings, self.nset = con, embedder, settings, nset
        self.scorer = get_scorer(settings.scorer, settings)
        self.bank, _ = embed_bank(con, nset, embedder)
        # the match step's own judges: event head, stance head and counter check, fitted alike
        self.judges, _ = Judges.fit(con, nset, embedder, settings)
        self.stance_head = self.judges.stance_head
        self.stance_texts, self.stance_labels = stance.training_texts(nset)

    def embed(self, texts: list[str]) -> np.ndarray:
        from narratives.vectors.store import embed_cached

        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return embed_cached(self.con, self.embedder, texts, "passage")[0]

    def passages(self, docs: list[Doc]) -> tuple[list[str], np.ndarray]:
        """(passage texts, index of each passage's document)."""
        texts, owner = [], []
        for i, d in enumerate(docs):
            for p in split(d.text, self.settings.max_passage_words, default_lang=d.lang):
                texts.append(p.text)
                owner.append(i)
        return texts, np.array(owner, dtype=int)

    def judge(self, docs: list[Doc], context: bool = True) -> dict[str, np.ndarray]:
        """Per document: `confirmed` (any passage confirmed for any narrative: today's count),
        `in_scope` (a passage names a key term or its event score reaches the threshold, and the
        date is in the window), `head_scope` (the same by the event head alone), `carried` (the
        narratives with a passage confirmed for them that asserts) and `counted` (in scope and
        carrying one). With `context`, stance judges each passage among its document's
        neighbours that speak of the same narrative, as the match step does
        (`narratives.evaluation.counted`)."""
        texts, owner = self.passages(docs)
        got = count_documents(
            self.embed(texts), texts, owner, len(docs), scorer=self.scorer, bank=self.bank,
            nset=self.nset, judges=self.judges, top_k=3, context=context,
            inside_window=np.array([in_window(self.nset.event, d.date) for d in docs], dtype=bool),
        )  # fmt: skip
        return {"confirmed": got.confirmed, "in_scope": got.in_scope, "head_scope": got.head_scope,
                "terms": got.terms, "carried": got.carried, "counted": got.counted}  # fmt: skip


# --- data ------------------------------------------------------------------------------------
def ntrex_docs(path) -> dict[str, list[Doc]]:
    rows = read_jsonl(path)
    by_doc: dict[str, list[dict]] = {}
    for r in rows:
        by_doc.setdefault(r["doc_id"], []).append(r)
    return {
        lang: [Doc(f"{d}-{lang}", " ".join(r[lang] for r in rs), lang) for d, rs in by_doc.items()]
        for lang in LANGS
    }


def semeval_other_docs(path) -> dict[str, list[Doc]]:
    rows = [r for r in read_jsonl(path) if r["labels"] == ["Other"] and r["lang"] in ("en", "ru")]
    return {
        lang: [Doc(r["id"], r["text"], lang) for r in rows if r["lang"] == lang]
        for lang in ("en", "ru")
    }


def demo_docs(path) -> list[Doc]:
    """The demo corpus; `gold`: each gold narrative asserted, each `gold_stance` entry as given."""
    out = []
    for r in read_jsonl(path):
        date = dt.date.fromisoformat(r["published_at"][:10]) if r.get("published_at") else None
        gold = {n: "asserts" for n in r.get("gold_narratives") or []}
        gold |= r.get("gold_stance") or {}
        out.append(
            Doc(r["id"], r["text"], r["lang"], date, label="gold" if gold else "", gold=gold)
        )
    return out


def euvs_docs(path) -> tuple[list[Doc], dict[str, str]]:
    rows = read_jsonl(path)
    claims = {r["case_id"]: r["narrative"] for r in rows}
    docs = [Doc(r["id"], r["text"], r.get("lang", "en"), group=r["case_id"], label=r["stance"])
            for r in rows]  # fmt: skip
    return docs, claims


# --- (b) stance on EUvsDisinfo -----------------------------------------------------------------
def claim_set(case_id: str, claim: str) -> NarrativeSet:
    """A set of one narrative, the claim: what the matcher confirms passages for."""
    n = Narrative(id="claim", label=claim[:80], description=claim, threshold=0.86,
                  exemplars={"en": (claim,)})  # fmt: skip
    return NarrativeSet(id="euvs-" + case_id.lower().replace("_", "-"), title=claim[:80],
                        narratives=(n,))  # fmt: skip


def claim_gate(tracker: Tracker, docs: list[Doc], claims: dict[str, str], vectors, owner):
    """Per passage: confirmed for its case's claim by the configured scorer on the one-claim set
    (each bank built from the cached vectors of the texts embed_bank would embed)."""
    confirmed = np.zeros(len(owner), dtype=bool)
    cases: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        cases.setdefault(d.group, []).append(i)
    cache: dict[str, np.ndarray] = {}
    for case, doc_idx in cases.items():
        nset = claim_set(case, claims[case])
        ids, langs, texts = ExemplarBank.texts_of(nset)
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, tracker.embed(missing), strict=True))
        bank = ExemplarBank(ids, langs, texts, np.vstack([cache[t] for t in texts]))
        rows = np.flatnonzero(np.isin(owner, doc_idx))
        decisions = tracker.scorer.decide(vectors[rows], bank, nset, top_k=1)
        confirmed[rows] = [row[0].decision == "confirmed" for row in decisions]
    return confirmed


CONTEXT_MEASURED = 2  # passages either side, for the "with context" rows


def euvs_stance(tracker: Tracker, docs: list[Doc], claims: dict[str, str], folds: int) -> dict:
    """A text carries its case's claim when one of its passages is confirmed for the claim and
    the stance head says it asserts. Zero-shot: the head as the pipeline fits it (the set and the
    stance bank); CV: the same plus the EUvsDisinfo passages of the other folds (grouped by case),
    each labelled with its text's stance; both with and without the document context."""
    from sklearn.model_selection import GroupKFold

    texts, owner = tracker.passages(docs)
    vectors = tracker.embed(texts)
    confirmed = claim_gate(tracker, docs, claims, vectors, owner)
    labels = np.array([d.label for d in docs])
    groups = np.array([d.group for d in docs])
    n = len(docs)
    splits = list(GroupKFold(folds).split(np.zeros(n), labels, groups))
    documents = owner.tolist()

    def carried(stances) -> np.ndarray:
        asserts = np.array([s == "asserts" for s in stances], dtype=bool)
        return np.bincount(owner[confirmed & asserts], minlength=n) > 0

    def summary(flags: np.ndarray) -> dict:
        out = {}
        for name, lab in (("assert_recall", "asserts"), ("leakage", "refutes")):
            out[name] = share(flags[labels == lab])
            per = [float(flags[t][labels[t] == lab].mean()) for _, t in splits]
            out[name]["folds"] = [min(per), max(per)]
        return out

    out = {"gate": summary(np.bincount(owner[confirmed], minlength=n) > 0)}
    base_x = tracker.embed(tracker.stance_texts)
    for context in (True, False):
        key = "" if context else "_alone"
        docs_arg = documents if context else None
        # the context window measured (the pipeline's own default may be 0: Settings)
        s = tracker.settings.replace(stance_context=CONTEXT_MEASURED if context else 0)
        zero_head = stance.StanceHead(s).fit(base_x, list(tracker.stance_labels),
                                             list(tracker.stance_texts))  # fmt: skip
        zero, _ = zero_head.predict(vectors, texts, docs_arg)
        out["zero_shot" + key] = summary(carried(zero))
        cv, biases = np.zeros(n, dtype=bool), []
        for train, test in splits:
            tr_p = np.flatnonzero(np.isin(owner, train))
            te_p = np.flatnonzero(np.isin(owner, test))
            head = stance.StanceHead(s).fit(
                np.vstack([base_x, vectors[tr_p]]),
                list(tracker.stance_labels) + [labels[owner[i]] for i in tr_p],
                list(tracker.stance_texts) + [texts[i] for i in tr_p],
                [None] * len(base_x) + [documents[i] for i in tr_p] if context else None,
                # calibration as with analysts' verdicts: cross-validated by case, counted by
                # text, on the passages the matching gate confirms
                groups=[None] * len(base_x) + [docs[owner[i]].group for i in tr_p],
                units=[None] * len(base_x) + [int(owner[i]) for i in tr_p],
                judged=[False] * len(base_x) + [bool(confirmed[i]) for i in tr_p],
            )
            biases.append(round(float(head.bias), 3))  # the calibration's choice in this fold
            pred, _ = head.predict(vectors[te_p], [texts[i] for i in te_p],
                                   [documents[i] for i in te_p] if context else None)  # fmt: skip
            stances = np.array(["reports"] * len(texts), dtype=object)
            stances[te_p] = pred
            cv[test] = carried(stances)[test]
        out["cv" + key] = summary(cv) | {"asserts_bias": biases}
    out["passages"] = len(texts)
    out["asserts_text_is_claim"] = int(
        sum(d.label == "asserts" and d.text.strip() == claims[d.group].strip() for d in docs)
    )
    return out


# --- (c) the demo corpus -----------------------------------------------------------------------
def demo_measures(tracker: Tracker, docs: list[Doc]) -> dict:
    j = tracker.judge(docs)
    gold = np.array([d.label == "gold" for d in docs])
    known = set(tracker.nset.ids())
    pairs = [(i, nid, st) for i, d in enumerate(docs) for nid, st in d.gold.items() if nid in known]
    counted = np.array([j["in_scope"][i] and nid in j["carried"][i] for i, nid, _ in pairs])
    stances = np.array([st for _, _, st in pairs])
    return {
        "gold_in_scope": share(j["in_scope"][gold]),
        "gold_terms": share(j["terms"][gold]),
        "gold_head_scope": share(j["head_scope"][gold]),
        "other_in_scope": share(j["in_scope"][~gold]),
        "asserted_counted": share(counted[stances == "asserts"]),
        "not_asserted_counted": share(counted[stances != "asserts"]),
    }


# --- the table -------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=Path("var"))
    ap.add_argument("--set", type=Path, help="narrative set (default: the shipped crocus set)")
    ap.add_argument("--ntrex", type=Path, help="NTREX-128 dev.jsonl")
    ap.add_argument("--semeval", type=Path, help="SemEval-2025 Task 10 dev.jsonl")
    ap.add_argument("--euvsdisinfo", type=Path, help="EUvsDisinfo stance dev.jsonl")
    ap.add_argument("--demo", type=Path, default=Path("data/demo/corpus.jsonl"))
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (by case)")
    ap.add_argument("--model", help="embedding model (default: the pipeline's, e5-small)")
    ap.add_argument("--stance-c", type=float, help="C of the stance head (default: the pipeline's)")
    ap.add_argument("--out", type=Path, default=Path("reports/trust.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    settings = Settings(home=args.home, progress=False).replace(
        model=args.model, narrative_set=args.set, stance_c=args.stance_c
    )
    nset = load_set(settings.narrative_set)
    event_note = "the set's event"
    if nset.event is None:
        nset = replace(nset, event=MEASURING_EVENT)
        event_note = "no event in the set: the benchmark's MEASURING_EVENT"
    from narratives.core.store import writer
    from narratives.vectors.step import load_embedder

    embedder = load_embedder(settings.model, settings.models_dir)
    params = scope.parameters(settings) | stance.parameters(settings)
    print(f"model {settings.model}, scorer {settings.scorer}, scope {scope.SCOPE}, stance "
          f"{stance.STANCE}; {event_note}; " + ", ".join(f"{k} {v}" for k, v in params.items()))  # fmt: skip
    report: dict = {"model": settings.model, "scorer": settings.scorer, "scope": scope.SCOPE,
                    "stance": stance.STANCE, "set": nset.id, "set_version": nset.version,
                    "event": event_note, "parameters": params, "targets": TARGETS}  # fmt: skip
    table: list[tuple[str, str, str, str]] = []

    def row(measure, method, value, target=""):
        table.append((measure, method, value, target))

    with writer(args.home / "trust.duckdb", settings.lock_wait_s) as con:
        tracker = Tracker(con, embedder, settings, nset)
        off = {}
        if args.ntrex:
            off |= {f"NTREX {k}": v for k, v in ntrex_docs(args.ntrex).items()}
        if args.semeval:
            off |= {f"SemEval Other {k}": v for k, v in semeval_other_docs(args.semeval).items()}
        report["offtopic"] = {}
        for name, docs in off.items():
            j = tracker.judge(docs)
            target = TARGETS["ntrex" if name.startswith("NTREX") else "semeval"]
            rep = {k: share(j[k]) for k in ("confirmed", "in_scope", "terms", "counted")}
            report["offtopic"][name] = rep
            row(f"(a) {name} docs", "before: a passage confirmed", fmt(rep["confirmed"]))
            row("", "in scope (key term or event head)", fmt(rep["in_scope"]))
            ok = "ok" if rep["counted"]["share"] <= target else "MISS"
            row("", "counted: in scope, confirmed, asserts", fmt(rep["counted"]),
                f"<= {target:.0%} {ok}")  # fmt: skip
        if args.euvsdisinfo:
            docs, claims = euvs_docs(args.euvsdisinfo)
            st = euvs_stance(tracker, docs, claims, args.folds)
            report["euvsdisinfo"] = st
            k = args.folds
            methods = (("gate", "matching gate alone (confirmed for the claim)"),
                       ("zero_shot", "stance head as shipped (zero-shot)"),
                       ("cv", f"stance head + EUvsDisinfo labels ({k}-fold CV by case)"),
                       ("zero_shot_alone", "zero-shot, passages judged without context"),
                       ("cv_alone", f"{k}-fold CV, passages judged without context"))  # fmt: skip
            for metric, label, target in (("assert_recall", "assert recall", TARGETS["recall"]),
                                          ("leakage", "refutation leakage", TARGETS["leakage"])):  # fmt: skip
                for i, (key, name) in enumerate(methods):
                    s = st[key][metric]
                    goal = ""
                    if key == "cv":
                        met = (
                            s["share"] >= target
                            if metric == "assert_recall"
                            else s["share"] <= target
                        )
                        goal = f"{'>=' if metric == 'assert_recall' else '<='} {target:.2f} " + (
                            "ok" if met else "MISS"
                        )
                    row(f"(b) EUvsDisinfo {label}" if i == 0 else "", name,
                        fmt(s, tuple(s["folds"])), goal)  # fmt: skip
        if args.demo and args.demo.exists():
            dm = demo_measures(tracker, demo_docs(args.demo))
            report["demo"] = dm
            row("(c) demo: labelled docs", "in scope", fmt(dm["gold_in_scope"]))
            row("", "naming a key term", fmt(dm["gold_terms"]))
            row("", "in scope by the event head alone", fmt(dm["gold_head_scope"]))
            row("(c) demo: unlabelled docs", "in scope (ordinary news)", fmt(dm["other_in_scope"]))
            row("(c) demo: narrative pairs", "gold asserts: counted", fmt(dm["asserted_counted"]))
            row("", "gold refutes/reports: counted", fmt(dm["not_asserted_counted"]))
    report["seconds"] = round(time.perf_counter() - started, 1)
    width = [max(len(r[i]) for r in table) for i in range(4)] if table else [0] * 4
    for r in [("measure", "method", "share [95% Wilson] (x/n), fold range", "target"), *table]:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)).rstrip())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    print(f"{report['seconds']:.0f} s; JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
