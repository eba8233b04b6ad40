"""Does the counter-exemplar check hold on text it was not written with? EUvsDisinfo themes.

The check (`narratives.matching.stance.CounterCheck`) turns an asserting passage round when it
lies nearer a narrative's counter-exemplars than its exemplars. On the demo the set's
counter-exemplars and the demo's refutations were written by the same project, which flatters
it. Here an analyst's situation is played with real text: EUvsDisinfo cases share themes (their
`keywords`: "Crimea", "Syrian War", "NATO"...). For each theme with at least `--min-cases`
cases, 5-fold cross-validation grouped by case: the claims of the training cases are the theme's
exemplars and the passages of their disproofs its counter-exemplars (real debunks, as an analyst
would paste them); the held-out cases' two texts are judged as in `trust.py` (b) with the shipped
stance head (zero-shot, the pipeline's context), once without the check and once with it. A case
belongs to the theme among its keywords that has the most cases.

    .venv/bin/python -m benchmarks.counter_check --euvsdisinfo ../shared/eval/euvsdisinfo_stance/dev.jsonl

Caveat stated with the result: EUvsDisinfo's disproofs share one editorial register, so a theme's
counter-exemplar centroid is partly a centroid of that register; the demo's and this measure
bracket what the check does, neither is the last word.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.trust import Tracker, claim_gate, euvs_docs, fmt, share
from narratives.core.settings import Settings
from narratives.matching.sets import load_set
from narratives.matching.stance import CounterCheck, unit_mean

ROOT = Path(__file__).resolve().parents[1]


def themes(path: Path, min_cases: int) -> dict[str, str]:
    """case id -> its theme (the keyword with most cases among its own, of those with enough;
    a theme left with fewer than `min_cases` cases once each case has one theme is dropped)."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    keywords = {r["case_id"]: r.get("keywords") or [] for r in rows}
    size = Counter(k for ks in keywords.values() for k in set(ks))
    out = {}
    for case, ks in keywords.items():
        big = [k for k in ks if size[k] >= min_cases]
        if big:
            out[case] = max(big, key=lambda k: (size[k], k))
    kept = Counter(out.values())  # a theme can lose cases to bigger ones: keep those still big
    return {case: t for case, t in out.items() if kept[t] >= min_cases}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--euvsdisinfo", type=Path, required=True)
    ap.add_argument("--home", type=Path, default=ROOT / "var")
    ap.add_argument("--min-cases", type=int, default=20)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "counter_check.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from sklearn.model_selection import GroupKFold

    from narratives.core.store import writer
    from narratives.vectors.step import load_embedder

    settings = Settings(home=args.home, progress=False)
    embedder = load_embedder(settings.model, settings.models_dir)
    with writer(args.home / "trust.duckdb", settings.lock_wait_s) as con:
        tracker = Tracker(con, embedder, settings, load_set(settings.narrative_set))
        docs, claims = euvs_docs(args.euvsdisinfo)
        texts, owner = tracker.passages(docs)
        vectors = tracker.embed(texts)
        confirmed = claim_gate(tracker, docs, claims, vectors, owner)
    stances, _ = tracker.stance_head.predict(vectors, texts, owner.tolist())
    asserts = np.array([s == "asserts" for s in stances]) & confirmed
    labels = np.array([d.label for d in docs])
    theme_of = themes(args.euvsdisinfo, args.min_cases)
    n = len(docs)
    without, with_check, judged = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    for theme in sorted(set(theme_of.values())):
        idx = np.array([i for i, d in enumerate(docs) if theme_of.get(d.group) == theme])
        groups = np.array([docs[i].group for i in idx])
        for train, test in GroupKFold(args.folds).split(idx, groups=groups):
            tr, te = idx[train], idx[test]
            claim_rows = np.flatnonzero(np.isin(owner, tr[labels[tr] == "asserts"]))
            debunk_rows = np.flatnonzero(np.isin(owner, tr[labels[tr] == "refutes"]))
            # the shipped check, its one narrative the theme: the training cases' claims as
            # exemplars, their disproofs as counter-exemplars
            check = CounterCheck()
            check.centroids[theme] = (unit_mean(list(vectors[claim_rows])),
                                      unit_mean(list(vectors[debunk_rows])))  # fmt: skip
            rows = np.flatnonzero(np.isin(owner, te))
            nearer = [
                theme in n for n in check.nearer_counter(vectors[rows], [[theme]] * len(rows))
            ]
            for r, flip in zip(rows, nearer, strict=True):
                if asserts[r]:
                    without[owner[r]] = True
                    with_check[owner[r]] |= not flip
            judged[te] = True
    report = {"themes": dict(Counter(theme_of.values())), "cases": int(judged.sum() // 2)}
    for name, flags in (("without", without), ("with", with_check)):
        report[name] = {
            "assert_recall": share(flags[judged & (labels == "asserts")]),
            "leakage": share(flags[judged & (labels == "refutes")]),
        }  # fmt: skip
    print(f"{report['cases']} cases in {len(report['themes'])} themes of >= {args.min_cases} "
          f"cases; shipped head, zero-shot, stance_context {settings.stance_context}")  # fmt: skip
    print("| counter check | assert recall | refutation leakage |\n|---|---|---|")
    for name in ("without", "with"):
        print(f"| {name} | {fmt(report[name]['assert_recall'])} | {fmt(report[name]['leakage'])} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
