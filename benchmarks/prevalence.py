"""Corrected prevalence on real text: how wrong is classify-and-count, and does an audit fix it?

Analysts are simulated with gold labels. Positives of a VoxCheck narrative: its quotes (EN/UK/RU,
without quality.py's seed cases); negatives: NTREX-128 documents (sentences joined by doc_id, in
EN/RU/UK), SemEval `Other` articles (EN/RU) and the other narratives' quotes. The classifier is
the tracker's: the exemplar head trained on the seeds as quality.py builds them, document score =
max over passages, counted at Settings().head_threshold.

(1) Artificial prevalence: per narrative and prevalence p, cells of --size documents drawn with
    replacement (a narrative has 3-97 positive quotes); an audit of --audit labels stratified by
    the tracker's decision, drawn from the cell itself or from a separate 1,000-document
    population at a random prevalence in [0, 0.5] (the product's case: one audit over all weeks);
    every method of narratives.prevalence.estimates: error, 95% interval coverage and width.
(2) Learning curve: L labels per narrative (random stream, or uncertain: nearest the threshold
    under the current head, rounds to 10/25/50/100) join the head's training; macro-F1 and top-1
    on held-out quotes (CV, folds grouped by case and NTREX document), prevalence error after.
(3) Protocol (1) on SemEval en/ru with its own taxonomy (multi-label gold), when given.
Vectors are cached in <home>/prevalence.duckdb; JSON in <home>/prevalence.json; docs/prevalence.md.

    .venv/bin/python benchmarks/prevalence.py --voxcheck ../shared/eval/voxcheck_pd/dev.jsonl \\
        --voxcheck-taxonomy ../shared/eval/voxcheck_pd/taxonomy.json \\
        --ntrex ../shared/eval/ntrex128/dev.jsonl --semeval ../shared/eval/semeval2025_t10/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality import (  # noqa: E402
    VOX_LANGS,
    read_jsonl,
    semeval_taxonomy,
    voxcheck_split,
    voxcheck_taxonomy,
)
from benchmarks.trust import ntrex_docs, semeval_other_docs  # noqa: E402
from narratives.core.settings import Settings  # noqa: E402
from narratives.prevalence import estimates  # noqa: E402
from narratives.prevalence.estimates import Audit, estimate  # noqa: E402

log = logging.getLogger("prevalence")
GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
LEVELS = (0, 10, 25, 50, 100)
REF_SIZE = 1000
FLOOR = (estimates.MIN_AUDIT, estimates.MIN_STRATUM)
SCORE_BOOT = 200  # emq's bootstrap is ~50x the cost of acc's: fewer replicates in the simulation


@dataclass
class Doc:
    id: str
    text: str
    lang: str
    group: str  # cross-validation group: a case's translations, an NTREX document's languages
    labels: tuple[str, ...] = ()
    seed: bool = False


def load(args) -> tuple[list[Doc], list[Doc], dict]:
    """(VoxCheck quotes, negatives: NTREX + SemEval Other, seeds)."""
    seeds, _ = voxcheck_split(args.voxcheck)
    seed_cases = {c for cs in seeds.values() for c in cs}
    vox = [Doc(r["id"], r["text"], r["lang"], f"case-{r['case_id']}", (r["labels"]["narrative"],),
               r["case_id"] in seed_cases)
           for r in read_jsonl(args.voxcheck) if r["lang"] in VOX_LANGS]  # fmt: skip
    neg = [Doc(d.id, d.text, d.lang, "ntrex-" + d.id.rsplit("-", 1)[0])
           for ds in ntrex_docs(args.ntrex).values() for d in ds]  # fmt: skip
    if args.semeval:
        neg += [Doc(d.id, d.text, d.lang, "semeval-" + d.id)
                for ds in semeval_other_docs(args.semeval).values() for d in ds]  # fmt: skip
    return vox, neg, seeds


def embed(con, embedder, docs: list[Doc], max_words: int) -> list[np.ndarray]:
    """Each document's passage vectors, split and cached as `narratives eval` does."""
    from narratives.evaluation.run import embed_documents

    return embed_documents(con, embedder, docs, max_words, progress=False)


def head_scores(bank, order, passages, c: float, extra: dict | None = None) -> np.ndarray:
    """Passage probabilities (passages x narratives) of the exemplar head, trained as
    narratives/matching/scorers/head.py trains it, plus analysts' labelled passages: `extra` maps
    a narrative's column to (vectors, 0/1 targets) joining its training rows. Kept small so it
    can call the product's labelled-examples API once that lands."""
    from sklearn.linear_model import LogisticRegression

    ids = np.array(bank.narrative_ids)
    out = np.zeros((len(passages), len(order)), dtype=np.float32)
    for j, nid in enumerate(order):
        x, y = bank.vectors, (ids == nid).astype(int)
        if extra and j in extra:
            x, y = np.vstack([x, extra[j][0]]), np.concatenate([y, extra[j][1]])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y)
        out[:, j] = model.predict_proba(passages)[:, 1]
    return out


def doc_max(passage_scores: np.ndarray, owner: np.ndarray, n_docs: int) -> np.ndarray:
    out = np.zeros((n_docs, passage_scores.shape[1]), dtype=np.float32)
    np.maximum.at(out, owner, passage_scores)
    return out


# --- (1) the artificial-prevalence protocol ------------------------------------------------------
def draw_audit(pred, scores, truth, per, rng, counted, total) -> Audit:
    take = [rng.permutation(np.flatnonzero(pred == c))[:per] for c in (True, False)]
    i = np.concatenate(take)
    return Audit(pred[i], truth[i], counted, total, scores[i])


def simulate(task) -> list[dict]:
    """One narrative's cells: task = (name, scores, positives, negatives, cfg)."""
    name, scores, pos, neg, cfg = task
    thr, out = cfg["threshold"], []
    for p in cfg["grid"]:
        for r in range(cfg["samples"]):
            rng = np.random.default_rng([cfg["seed"], int(p * 1000), r, len(pos)])
            k = round(p * cfg["size"])
            idx = np.r_[rng.choice(pos, k), rng.choice(neg, cfg["size"] - k)]
            s, y = scores[idx], np.arange(cfg["size"]) < k
            pred, counted = s >= thr, int((s >= thr).sum())
            p_ref = rng.uniform(0, 0.5)
            kr = round(p_ref * REF_SIZE)
            ref = np.r_[rng.choice(pos, kr), rng.choice(neg, REF_SIZE - kr)]
            rs, ry = scores[ref], np.arange(REF_SIZE) < kr
            for budget in cfg["budgets"]:
                # "floor": audits below the minimum measured too (in this worker process only)
                low = cfg.get("floor") and budget < FLOOR[0]
                estimates.MIN_AUDIT, estimates.MIN_STRATUM = (2, 1) if low else FLOOR
                audits = {
                    "cell": draw_audit(pred, s, y, budget // 2, rng, counted, len(s)),
                    "all weeks": draw_audit(rs >= thr, rs, ry, budget // 2, rng,
                                            int((rs >= thr).sum()), REF_SIZE),
                }  # fmt: skip
                for scenario, audit in audits.items():
                    for m in cfg["methods"]:
                        if m == "ppi" and scenario != "cell":
                            continue
                        # "acc-bootstrap": acc with the plain bootstrap instead of Jeffreys draws
                        boot = "bootstrap" if m.endswith("bootstrap") else "jeffreys"
                        e = estimate(counted, len(s), audit, m.split("-")[0], seed=r,
                                     n_boot=SCORE_BOOT if m == "emq" else 1000,
                                     cell_scores=s, threshold=thr, resample=boot)  # fmt: skip
                        out.append({"narrative": name, "p": p, "true": k / cfg["size"],
                                    "scenario": scenario, "method": m, "audit": budget,
                                    "raw": e.raw, "enough": e.enough, "share": e.share,
                                    "lo": e.lo, "hi": e.hi})  # fmt: skip
    return out


def run_protocol(data, cfg, workers: int) -> list[dict]:
    """Cells for every narrative of `data` (a Scored) with at least 3 positive documents."""
    tasks = []
    for j, name in enumerate(data.names):
        pos, neg = np.flatnonzero(data.gold[:, j]), np.flatnonzero(~data.gold[:, j])
        if len(pos) >= 3:
            tasks.append((name, data.scores[:, j], pos, neg, cfg))
    with ProcessPoolExecutor(workers) as pool:
        return [row for rows in pool.map(simulate, tasks) for row in rows]


def summarise(rows, keys=("scenario", "method"), boot: int = 1000) -> list[dict]:
    """MAE, coverage, width per group over the cells with enough labels, CC's MAE on the same
    cells and the ratio of the two; 95% intervals by resampling narratives (the cells of one
    narrative share its few positives, so they are not independent)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    rng, out = np.random.default_rng(0), []
    for key, rs in groups.items():
        ok = [r for r in rs if r["enough"]]
        names = sorted({r["narrative"] for r in ok})
        per = {n: np.array([[abs(r["share"] - r["true"]), r["lo"] - 1e-12 <= r["true"]
                             <= r["hi"] + 1e-12, r["hi"] - r["lo"], abs(r["raw"] - r["true"])]
                            for r in ok if r["narrative"] == n]) for n in names}  # fmt: skip
        draws = np.array([np.vstack([per[n] for n in rng.choice(names, len(names))]).mean(0)
                          for _ in range(boot if per else 0)]).reshape(-1, 4)  # fmt: skip
        stats = np.vstack(list(per.values())).mean(0) if per else np.full(4, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio, ratios = stats[0] / stats[3], draws[:, 0] / draws[:, 3]
        ci = np.nanpercentile(draws, [2.5, 97.5], axis=0) if per else np.full((2, 4), np.nan)
        rci = np.nanpercentile(ratios, [2.5, 97.5]) if per else [np.nan] * 2
        out.append(dict(zip(keys, key, strict=True)) | {
            "mae": stats[0], "mae_ci": ci[:, 0].tolist(), "coverage": stats[1],
            "coverage_ci": ci[:, 1].tolist(), "width": stats[2], "cc_mae": stats[3],
            "ratio": ratio, "ratio_ci": list(rci), "cells": len(rs),
            "enough": len(ok) / len(rs)})  # fmt: skip
    return out


# --- (2) the learning curve ----------------------------------------------------------------------
def folds_of(docs: list[Doc], k: int) -> np.ndarray:
    groups = list(dict.fromkeys(d.group for d in docs))
    fold = dict(zip(groups, np.random.default_rng(0).permutation(len(groups)) % k, strict=True))
    return np.array([fold[d.group] for d in docs])


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Mean F1 over the narratives with gold support (one-vs-rest at the threshold)."""
    tp, fp, fn = ((gold & pred).sum(0), (~gold & pred).sum(0), (gold & ~pred).sum(0))
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    return float(f1[gold.sum(0) > 0].mean())


def learning_curve(vox: dict, settings, k: int, log_every) -> dict:
    """Out-of-fold document scores per (stream, L); L=0 is the seeds-only head."""
    bank, order, flat, owner, gold = (vox[x] for x in ("bank", "order", "flat", "owner", "gold"))
    n, thr, c = len(vox["docs"]), settings.head_threshold, settings.head_c
    fold = folds_of(vox["docs"], k)
    base = doc_max(head_scores(bank, order, flat, c), owner, n)
    out = {("seeds", 0): base}
    for stream in ("random", "uncertain"):
        oof = {lv: np.zeros_like(base) for lv in LEVELS[1:]}
        for f in range(k):
            pool = np.flatnonzero(fold != f)
            labelled = {j: np.zeros(0, dtype=int) for j in range(len(order))}
            current = base
            for lv in LEVELS[1:]:
                rng = np.random.default_rng([f, lv, len(stream)])
                for j in labelled:
                    free = np.setdiff1d(pool, labelled[j])
                    need = lv - len(labelled[j])
                    near = np.argsort(np.abs(current[free, j] - thr), kind="stable")
                    pick = free[near[:need]]
                    if stream == "random":
                        pick = rng.choice(free, need, replace=False)
                    labelled[j] = np.r_[labelled[j], pick]
                extra = extra_rows(labelled, gold, flat, owner)
                current = doc_max(head_scores(bank, order, flat, c, extra), owner, n)
                held = fold == f
                oof[lv][held] = current[held]
                log_every(f"learning curve: {stream}, fold {f + 1}/{k}, {lv} labels")
        out |= {(stream, lv): m for lv, m in oof.items()}
    return out


def extra_rows(labelled: dict, gold: np.ndarray, flat, owner) -> dict:
    """Per narrative column: the passages of its labelled documents (a yes: positive rows; a no:
    negative) and, as the product's labelled examples do, other narratives' yes documents as
    negatives; a document's passages all take its label."""
    out = {}
    for j, docs in labelled.items():
        others = [d for i, ds in labelled.items() if i != j for d in ds if gold[d, i]]
        own = dict.fromkeys(others, 0) | {d: int(gold[d, j]) for d in docs}
        ds = np.array(list(own), dtype=int)
        rows = np.flatnonzero(np.isin(owner, ds))
        target = np.array([own[d] for d in owner[rows]])
        out[j] = (flat[rows], target)
    return out


# --- the run ------------------------------------------------------------------------------------
@dataclass
class Scored:
    """A labelled collection scored by a head: document scores, gold, narrative names."""

    scores: np.ndarray  # docs x narratives
    gold: np.ndarray  # docs x narratives, bool
    names: list[str]


def prepare(args, settings, con, embedder) -> tuple[dict, Scored | None]:
    """The VoxCheck pieces the learning curve needs, and SemEval scored by its own seeds."""
    from narratives.matching.bank import active_ids, embed_bank
    from narratives.matching.base import get_scorer
    from narratives.matching.taxonomy import taxonomy_to_set

    vox, neg, seeds = load(args)
    tax = voxcheck_taxonomy(args.voxcheck_taxonomy, args.voxcheck, seeds, VOX_LANGS)
    nset = taxonomy_to_set(tax)
    bank, _ = embed_bank(con, nset, embedder)
    docs = [d for d in vox if not d.seed] + neg
    vecs = embed(con, embedder, docs, settings.max_passage_words)
    order, names = active_ids(nset), [n.label for n in nset.narratives]
    gold = np.array([[n in d.labels for n in names] for d in docs], dtype=bool)
    flat = np.vstack(vecs).astype(np.float32)
    owner = np.repeat(np.arange(len(docs)), [len(v) for v in vecs])
    # the benchmark's head must be the product's: compared with the registered scorer once
    ours = head_scores(bank, order, flat[:50], settings.head_c)
    theirs = get_scorer("exemplar-head", settings).score(flat[:50], bank, order)[0]
    assert np.allclose(ours, theirs, atol=1e-5), "head_scores drifted from the exemplar head"
    vox_data = {"bank": bank, "order": order, "names": names, "docs": docs, "gold": gold,
                "flat": flat, "owner": owner}  # fmt: skip
    if not (args.semeval and args.semeval_taxonomy and args.semeval_descriptions):
        return vox_data, None
    sset = taxonomy_to_set(semeval_taxonomy(args.semeval_taxonomy, args.semeval_descriptions))
    sbank, _ = embed_bank(con, sset, embedder)
    rows = [r for r in read_jsonl(args.semeval) if r["lang"] in ("en", "ru")]
    svecs = embed(con, embedder, [Doc(r["id"], r["text"], r["lang"], "") for r in rows],
                  settings.max_passage_words)  # fmt: skip
    sowner = np.repeat(np.arange(len(rows)), [len(v) for v in svecs])
    snames = [n.label for n in sset.narratives]
    passages = head_scores(sbank, active_ids(sset), np.vstack(svecs), settings.head_c)
    sgold = np.array([[n in r["labels"] for n in snames] for r in rows], dtype=bool)
    return vox_data, Scored(doc_max(passages, sowner, len(rows)), sgold, snames)


def curve_rows(curve: dict, vox: dict, cfg: dict, workers: int, progress) -> list[dict]:
    """Macro-F1 and top-1 accuracy on the VoxCheck quotes (95% bootstrap over cases, and the
    margin over the seeds-only head paired by case), and the prevalence error, per (stream, L)."""
    docs, gold, thr = vox["docs"], vox["gold"], cfg["threshold"]
    q = np.flatnonzero(gold.any(1))  # the quotes; the off-topic negatives are not scored here
    groups = np.array([docs[i].group for i in q])
    uniq, rng = np.unique(groups), np.random.default_rng(1)
    members = {g: np.flatnonzero(groups == g) for g in uniq}
    picks = [np.concatenate([members[g] for g in rng.choice(uniq, len(uniq))]) for _ in range(500)]

    def f1s(m):
        pred = m[q] >= thr
        return macro_f1(gold[q], pred), np.array([macro_f1(gold[q][i], pred[i]) for i in picks])

    base_f1, base_boot = f1s(curve[("seeds", 0)])
    out = []
    for (stream, lv), m in curve.items():
        f1, boot = f1s(m)
        prev = run_protocol(Scored(m, gold, vox["names"]), cfg | {"samples": 10,
                            "methods": ("cc", "acc")}, workers)  # fmt: skip
        s = {r["method"]: r for r in summarise(prev) if r["scenario"] == "all weeks"}
        out.append({"stream": stream, "labels": lv, "macro_f1": f1,
                    "f1_ci": np.percentile(boot, [2.5, 97.5]).tolist(),
                    "margin": f1 - base_f1,
                    "margin_ci": np.percentile(boot - base_boot, [2.5, 97.5]).tolist(),
                    "top1": float(gold[q, m[q].argmax(1)].mean()),
                    "cc": s["cc"]["mae"], "acc": s["acc"]["mae"]})  # fmt: skip
        progress(f"learning curve {stream} {lv}: macro-F1 {f1:.3f}")
    return out


# --- the report ----------------------------------------------------------------------------------
def num(x, f=".3f") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, f)


def table(title: str, rows: list[dict], first: str) -> None:
    """A markdown table of summarise() rows: `first` names the column after the scenario."""
    print(f"\n{title}\n\n| audit drawn from | {first} | MAE [95% CI] | coverage [95% CI] | "
          "width | enough | CC MAE, same cells | MAE / CC [95% CI] |\n"
          + "|---" * 8 + "|")  # fmt: skip
    for s in rows:
        (lo, hi), (clo, chi), (rlo, rhi) = s["mae_ci"], s["coverage_ci"], s["ratio_ci"]
        print(f"| {s['scenario']} | {s[first]} | {num(s['mae'])} [{num(lo)}, {num(hi)}] | "
              f"{num(s['coverage'], '.2f')} [{num(clo, '.2f')}, {num(chi, '.2f')}] | "
              f"{num(s['width'])} | {s['enough']:.2f} | {num(s['cc_mae'])} | "
              f"{num(s['ratio'], '.2f')} [{num(rlo, '.2f')}, {num(rhi, '.2f')}] |")  # fmt: skip


def print_report(rep: dict) -> None:
    st = rep["settings"]
    table(f"VoxCheck: {rep['narratives']} narratives x {len(GRID)} prevalences x {st['samples']} "
          f"cells of {st['size']} documents, {st['audit']}-label audit, head threshold "
          f"{st['threshold']}", rep["protocol"], "method")  # fmt: skip
    print("\nThe seeds-only head on every document (quotes and negatives)\n\n| narrative | "
          "positives | tpr | fpr |\n|---|---|---|---|")  # fmt: skip
    for r in rep["rates"]:
        print(f"| {r['narrative']} | {r['positives']} | {num(r['tpr'], '.2f')} | {r['fpr']:.3f} |")
    methods = list(dict.fromkeys(s["method"] for s in rep["protocol"]))
    print("\nMAE by prevalence (audit from all weeks / from the cell)\n\n| p | "
          + " | ".join(methods) + " |\n|---|" + "---|" * len(methods))  # fmt: skip
    for p in GRID:
        v = {(s["method"], s["scenario"]): num(s["mae"]) for s in rep["by_prevalence"]
             if s["p"] == p}  # fmt: skip
        cells = [f"{v.get((m, 'all weeks'), '-')} / {v.get((m, 'cell'), '-')}" for m in methods]
        print(f"| {p:.2f} | " + " | ".join(cells) + " |")
    table("Audit size (acc, seeds-only head; 10 labels is below MIN_AUDIT: computed anyway)",
          sorted(rep["audit_size"], key=lambda s: (s["scenario"], s["audit"])),
          "audit")  # fmt: skip
    print(f"\nLearning curve: labels per narrative; macro-F1 and top-1 accuracy on held-out "
          f"VoxCheck quotes ({st['folds']}-fold CV by case; margin over the seeds-only head, "
          "paired bootstrap over cases); prevalence MAE of that head (audit from all weeks)\n\n"
          "| stream | labels | macro-F1 [95% CI] | margin [95% CI] | top-1 | CC MAE | ACC MAE |"
          "\n" + "|---" * 7 + "|")  # fmt: skip
    for r in rep["learning_curve"]:
        (lo, hi), (mlo, mhi) = r["f1_ci"], r["margin_ci"]
        print(f"| {r['stream']} | {r['labels']} | {r['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}] | "
              f"{r['margin']:+.3f} [{mlo:+.3f}, {mhi:+.3f}] | {r['top1']:.3f} | {r['cc']:.3f} | "
              f"{r['acc']:.3f} |")  # fmt: skip
    if rep["semeval"]:
        table(f"SemEval en+ru, its own taxonomy: {rep['semeval_narratives']} narratives with at "
              "least 3 positive documents", rep["semeval"], "method")  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=Path("var"))
    for name in ("voxcheck", "voxcheck-taxonomy", "ntrex"):
        ap.add_argument(f"--{name}", type=Path, required=True)
    # --semeval: its `Other` documents join the negatives; with the other two: protocol (3)
    for name in ("semeval", "semeval-taxonomy", "semeval-descriptions"):
        ap.add_argument(f"--{name}", type=Path)
    for name, default, help in (("samples", 50, "cells per narrative and prevalence"),
                                ("size", 200, "documents per cell"),
                                ("audit", 50, "audit labels per cell"),
                                ("folds", 5, "learning curve folds"),
                                ("workers", 2, "processes")):  # fmt: skip
        ap.add_argument(f"--{name}", type=int, default=default, help=help)
    ap.add_argument("--model", help="embedding model (default: the pipeline's, e5-small)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("faiss").setLevel(logging.WARNING)
    started = time.perf_counter()

    def progress(msg):
        log.info("%s (%.0f s)", msg, time.perf_counter() - started)

    import duckdb

    from narratives.vectors.step import load_embedder

    settings = Settings(home=args.home, progress=False).replace(model=args.model)
    embedder = load_embedder(settings.model, settings.models_dir)
    args.home.mkdir(parents=True, exist_ok=True)
    # the vector cache alone (vectors.store creates its table): no pipeline schema needed
    with duckdb.connect(str(args.home / "prevalence.duckdb")) as con:
        vox, sem = prepare(args, settings, con, embedder)
    progress(f"{len(vox['docs'])} documents embedded and scored")
    curve = learning_curve(vox, settings, args.folds, progress)
    seeds = Scored(curve[("seeds", 0)], vox["gold"], vox["names"])
    cfg = {"threshold": settings.head_threshold, "grid": GRID, "samples": args.samples,
           "size": args.size, "budgets": (args.audit,), "seed": 0,
           "methods": ("cc", "acc", "acc-bootstrap", "strat", "pacc", "emq", "ppi")}  # fmt: skip
    rows = run_protocol(seeds, cfg, args.workers)
    progress(f"protocol: {len(rows)} estimates")
    sizes = cfg | {"samples": max(10, args.samples // 2), "methods": ("acc",), "floor": True,
                   "budgets": (10, 25, 50, 100)}  # fmt: skip
    budgets = summarise(run_protocol(seeds, sizes, args.workers), ("scenario", "audit"))
    progress("audit-size curve done")
    report = {
        "settings": {"model": settings.model, "threshold": settings.head_threshold,
                     "head_c": settings.head_c, "samples": args.samples, "size": args.size,
                     "audit": args.audit, "folds": args.folds, "grid": GRID,
                     "ref_size": REF_SIZE, "emq_boot": SCORE_BOOT},
        "narratives": len({r["narrative"] for r in rows}),
        # the seeds-only head's own error rates over all documents: what acc has to undo
        "rates": [{"narrative": n, "positives": int(g.sum()), "tpr": float((sc[g] >= th).mean())
                   if g.any() else None, "fpr": float((sc[~g] >= th).mean())}
                  for n, g, sc, th in ((n, seeds.gold[:, j], seeds.scores[:, j],
                                        settings.head_threshold)
                                       for j, n in enumerate(seeds.names))],
        "protocol": summarise(rows), "by_prevalence": summarise(rows, ("scenario", "method", "p")),
        "audit_size": budgets,
        "learning_curve": curve_rows(curve, vox, cfg, args.workers, progress),
        "semeval": None,
    }  # fmt: skip
    if sem is not None:
        methods = tuple(m for m in cfg["methods"] if m != "acc-bootstrap")
        sem_rows = run_protocol(sem, cfg | {"methods": methods}, args.workers)
        report["semeval"] = summarise(sem_rows)
        report["semeval_narratives"] = len({r["narrative"] for r in sem_rows})
        progress("SemEval protocol done")
    report["seconds"] = round(time.perf_counter() - started, 1)
    print_report(report)
    out = args.home / "prevalence.json"
    out.write_text(json.dumps(report, indent=1, default=float), "utf-8")
    print(f"\n{report['seconds']:.0f} s; JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
