"""Document-level metrics of an evaluation, and its Markdown report."""

from __future__ import annotations

import numpy as np

from narratives.evaluation.labelled import LabelledDoc

NONE = "(none)"  # the "none of these" outcome, scored like a narrative


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "support": tp + fn,
            "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}  # fmt: skip


def metrics(
    docs: list[LabelledDoc], gold: np.ndarray, pred: np.ndarray, rank: np.ndarray, order: list[str]
) -> dict:
    """P/R/F1 per narrative, macro and micro, overall and per language, at document level.

    The "none of these" outcome ((none): a document with no narrative of the set) is scored as
    one more class. Macro-F1 averages the classes with gold support in the slice. Also: samples-F1
    (per-document F1, averaged, the SemEval measure) and top-1 accuracy (is the best-ranked
    narrative one of the gold ones; single-label data like VoxCheck)."""
    g = np.hstack([gold, ~gold.any(axis=1, keepdims=True)])
    p = np.hstack([pred, ~pred.any(axis=1, keepdims=True)])
    names = [*order, NONE]
    langs = sorted({d.lang for d in docs})
    slices = {"all": np.arange(len(docs))} | {
        lang: np.array([i for i, d in enumerate(docs) if d.lang == lang]) for lang in langs
    }
    out = {}
    for name, idx in slices.items():
        gs, ps = g[idx], p[idx]
        per = {
            n: prf(int((gs[:, j] & ps[:, j]).sum()), int((~gs[:, j] & ps[:, j]).sum()),
                    int((gs[:, j] & ~ps[:, j]).sum()))
            for j, n in enumerate(names)
        }  # fmt: skip
        supported = [v["f1"] for v in per.values() if v["support"]]
        micro = prf(*(sum(v[k] for v in per.values()) for k in ("tp", "fp", "fn")))
        inter = (gs & ps).sum(axis=1)
        denom = gs.sum(axis=1) + ps.sum(axis=1)
        labelled = gold[idx].any(axis=1)
        top1 = rank[idx].argmax(axis=1)
        hits = gold[idx][np.arange(len(idx)), top1]
        out[name] = {
            "documents": len(idx),
            "per_narrative": per,
            "macro_f1": float(np.mean(supported)) if supported else 0.0,
            "micro_f1": micro["f1"],
            "samples_f1": float(np.mean(np.where(denom > 0, 2 * inter / np.maximum(denom, 1), 1))),
            "top1_accuracy": float(hits[labelled].mean()) if labelled.any() else None,
        }
    return out


def markdown(report: dict) -> str:
    lines = [f"# Matching evaluation: {report['data']}", ""]
    for k in ("set", "model_id", "scorer", "aggregation", "method", "trained_on"):
        lines.append(f"- {k}: {report.get(k)}")
    lines.append("")
    lines.append("| slice | docs | macro-F1 | micro-F1 | samples-F1 | top-1 acc |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for name, m in report["metrics"].items():
        acc = "" if m["top1_accuracy"] is None else f"{m['top1_accuracy']:.3f}"
        lines.append(
            f"| {name} | {m['documents']} | {m['macro_f1']:.3f} | {m['micro_f1']:.3f} "
            f"| {m['samples_f1']:.3f} | {acc} |"
        )
    lines += ["", "macro-F1 averages the classes with gold support in the slice, `(none)` included; "
              "samples-F1 is per-document F1 averaged over documents with `(none)` as a class, "
              "the measure of SemEval-2025 Task 10's official scorer (F1@coarse)."]  # fmt: skip
    for name, m in report["metrics"].items():
        lines += ["", f"## {name}", "", "| narrative | support | P | R | F1 |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for n, v in m["per_narrative"].items():
            if v["support"] or v["fp"]:
                lines.append(
                    f"| {n} | {v['support']} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} |"
                )
    return "\n".join(lines) + "\n"
