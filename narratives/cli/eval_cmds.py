"""Commands that measure and build narrative sets: eval, import."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "eval",
        help="measure matching on labelled JSONL (text, lang, labels): P/R/F1 per narrative and language",
    )
    add_common(p)
    p.add_argument("data", type=Path, help="labelled JSONL: one {text, lang, labels[, id]} a line")
    p.add_argument(
        "--narratives", type=Path, dest="narrative_set", default=argparse.SUPPRESS,
        help="narrative set YAML (default: crocus-2024)",
    )  # fmt: skip
    p.add_argument(
        "--method",
        choices=["thresholds", "exemplar-thresholds", "fitted-thresholds", "logistic-head"],
        default=None,
        help="thresholds of the set (default), fitted on exemplars, fitted on labels, or a "
        "logistic-regression head (the last two need --train or --cv)",
    )
    p.add_argument("--train", type=Path, help="labelled JSONL to fit on (never the evaluated file)")
    p.add_argument("--cv", type=int, default=0, help="K-fold cross-validation over DATA instead")
    p.add_argument(
        "--scorer", default=argparse.SUPPRESS,
        help="exemplar-head, max-exemplar, lang-balanced, relative, knn-vote",
    )  # fmt: skip
    p.add_argument(
        "--centre-on", type=Path,
        help="unlabelled JSONL of {text, lang}: centre passages and exemplars by language first",
    )  # fmt: skip
    p.add_argument("--aggregation", choices=["max", "top2-mean"], default="max")
    p.add_argument(
        "--counted", action="store_true",
        help="measure what the pipeline counts (a passage confirmed and asserting, the document "
        "in the event's scope), as `narratives agreement` does on a run; default: the matcher alone",
    )  # fmt: skip
    p.add_argument(
        "--out", type=Path, help="folder for the Markdown and JSON reports (default <home>/reports)"
    )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("import", help="build a narrative set YAML from a taxonomy JSON file")
    add_common(p)
    p.add_argument("taxonomy", type=Path, help="taxonomy JSON (shape: docs/matching.md)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the set YAML to write")
    p.add_argument("--exemplars", type=Path, help="JSONL of {narrative, lang, text} exemplars")
    p.add_argument(
        "--calibrate", action="store_true",
        help="set each narrative's threshold from its exemplars (leave-one-out; embeds them)",
    )  # fmt: skip
    p.set_defaults(func=cmd_import)


def cmd_eval(args, settings) -> int:
    from narratives.evaluation.run import LEARNED, run_eval

    method = args.method or ("fitted-thresholds" if args.train or args.cv else "thresholds")
    if args.train and args.train.resolve() == args.data.resolve():
        raise ValueError("--train is the evaluated file: fit on other documents, or use --cv")
    report = run_eval(
        settings, args.data, method=method, train=args.train if method in LEARNED else None,
        folds=args.cv, aggregation=args.aggregation, out_dir=args.out,
        centre_on=args.centre_on, counted=args.counted,
    )  # fmt: skip
    what = "what the pipeline counts" if report["counted"] else report["method"]
    print(f"run {report['run_id']}: {report['set']} on {report['data']} ({what})")
    print(
        f"{'slice':8} {'docs':>5} {'macro-F1':>9} {'micro-F1':>9} {'samples-F1':>11} {'top-1':>6}"
    )
    for name, m in report["metrics"].items():
        acc = "" if m["top1_accuracy"] is None else f"{m['top1_accuracy']:.3f}"
        print(
            f"{name:8} {m['documents']:>5} {m['macro_f1']:>9.3f} {m['micro_f1']:>9.3f} "
            f"{m['samples_f1']:>11.3f} {acc:>6}"
        )
    print("reports: " + ", ".join(report["paths"]))
    return 0


def cmd_import(args, settings) -> int:
    from narratives.matching.sets import dump_set
    from narratives.matching.taxonomy import import_taxonomy

    nset = import_taxonomy(args.taxonomy, args.exemplars)
    if args.calibrate:
        from narratives.matching.calibration import calibrate_on_exemplars

        nset = calibrate_on_exemplars(settings, nset)
    dump_set(nset, args.output)
    n_ex = sum(len(t) for n in nset.narratives for t in n.exemplars.values())
    print(
        f"wrote {args.output}: set {nset.id}@{nset.version}, {len(nset.narratives)} narratives, {n_ex} exemplars"
    )
    return 0
