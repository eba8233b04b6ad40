"""Matching quality on real labelled data (SemEval-2025 Task 10, VoxCheck, NTREX-128), one table.

The datasets are read from their own files at run time (paths are arguments, so the same command
runs on any split of the same formats) and converted into `narratives eval`'s labelled JSONL and
`narratives import`'s taxonomy JSON in a scratch folder under --home; nothing of them is written
into the repository. Every evaluation goes through `narratives.evaluation.run.run_eval` and is recorded in
the `runs` table of <home>/eval.duckdb, whose embedding cache makes re-runs cheap.

    .venv/bin/python benchmarks/quality.py \\
        --semeval ../shared/eval/semeval2025_t10/dev.jsonl \\
        --semeval-taxonomy ../shared/eval/semeval2025_t10/taxonomy.json \\
        --semeval-descriptions ../shared/eval/semeval2025_t10/narrative_descriptions_en.jsonl \\
        --voxcheck ../shared/eval/voxcheck_pd/dev.jsonl \\
        --voxcheck-taxonomy ../shared/eval/voxcheck_pd/taxonomy.json \\
        --ntrex ../shared/eval/ntrex128/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from narratives.core.settings import Settings  # noqa: E402
from narratives.matching.sets import dump_set  # noqa: E402
from narratives.matching.taxonomy import taxonomy_to_set  # noqa: E402

VOX_LANGS = ("en", "uk", "ru")
SEEDS_PER_NARRATIVE = 3


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# --- conversions -----------------------------------------------------------------------------
def semeval_labelled(dev, langs, out: Path) -> Path:
    """SemEval documents as labelled JSONL; `Other` is "none of the set's narratives"."""
    rows = [
        {"id": r["id"], "text": r["text"], "lang": r["lang"],
         "labels": [x for x in r["labels"] if x != "Other"]}
        for r in read_jsonl(dev) if r["lang"] in langs
    ]  # fmt: skip
    return write_jsonl(out, rows)


def semeval_taxonomy(taxonomy, descriptions) -> dict:
    """The 21 narratives (not `Other`); description: the narrative's name and its
    sub-narratives' names; exemplars: the English description sentences."""
    tax = json.loads(Path(taxonomy).read_text("utf-8"))
    subs = defaultdict(list)
    for s in tax["subnarratives"]:
        head, _, tail = s.rpartition(": ")
        if tail != "Other":
            subs[head].append(tail)
    examples = defaultdict(list)
    for d in read_jsonl(descriptions):
        examples[d["narrative"]].append(d["text"])
    narratives = []
    for label in tax["narratives"]:
        if label == "Other":
            continue
        name = label.split(": ", 1)[1]
        narratives.append({
            "label": label,
            "description": f"{name}: {'; '.join(subs[label])}." if subs[label] else name,
            "exemplars": {"en": examples[label]} if examples[label] else {},
        })  # fmt: skip
    return {"id": "semeval2025-t10", "title": "SemEval-2025 Task 10 narratives", "narratives": narratives}  # fmt: skip


def voxcheck_split(dev) -> tuple[dict, list[dict]]:
    """(seed cases: narrative -> up to 3 case ids, evaluation rows): seeds are the first cases
    of each narrative by case id and are left out of the evaluation."""
    rows = read_jsonl(dev)
    cases = defaultdict(set)
    for r in rows:
        cases[r["labels"]["narrative"]].add(r["case_id"])
    seeds = {n: sorted(c)[:SEEDS_PER_NARRATIVE] for n, c in cases.items()}
    held = {c for cs in seeds.values() for c in cs}
    return seeds, [r for r in rows if r["case_id"] not in held]


def voxcheck_taxonomy(taxonomy, dev, seeds: dict, langs) -> dict:
    """Seeds in `langs`: each narrative's label, its fakes (sub-narrative statements) and the
    quotes of its seed cases."""
    quotes = {(r["case_id"], r["lang"]): r["text"] for r in read_jsonl(dev)}
    narratives = []
    for n in json.loads(Path(taxonomy).read_text("utf-8")):
        exemplars = {}
        for lang in langs:
            texts = [n["narrative_local"][lang]] if lang != "en" else []
            texts += [f["fake_local"][lang] for f in n["fakes"] if lang in f["fake_local"]]
            texts += [quotes[(c, lang)] for c in seeds.get(n["narrative_en"], []) if (c, lang) in quotes]  # fmt: skip
            exemplars[lang] = texts
        narratives.append({"label": n["narrative_en"], "description": n["narrative_en"], "exemplars": exemplars})  # fmt: skip
    return {"id": "voxcheck-" + "-".join(langs), "title": "VoxCheck Propaganda Diary narratives", "narratives": narratives}  # fmt: skip


def voxcheck_labelled(rows, lang, out: Path) -> Path:
    return write_jsonl(out, [
        {"id": r["id"], "text": r["text"], "lang": r["lang"], "labels": [r["labels"]["narrative"]]}
        for r in rows if r["lang"] == lang
    ])  # fmt: skip


def ntrex_unlabelled(ntrex, out: Path) -> Path:
    """NTREX sentences as unlabelled {text, lang} lines (the per-language means for centring)."""
    rows = read_jsonl(ntrex)
    return write_jsonl(out, [{"text": r[lang], "lang": lang} for r in rows for lang in VOX_LANGS])


# --- VoxCheck: how far can the model's vectors go? ------------------------------------------
def probes() -> dict:
    """The linear classifiers of the ceiling, by name (sklearn imported only when measuring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    return {
        "logistic C=10": lambda: LogisticRegression(C=10, max_iter=3000),
        "logistic C=100": lambda: LogisticRegression(C=100, max_iter=3000),
        "linear SVM C=1": lambda: LinearSVC(C=1.0),
    }


def linear_probe_accuracy(vectors, labels, groups, langs, folds: int = 5) -> dict[str, dict]:
    """Accuracy per language of linear classifiers trained on *every* labelled row of the other
    folds (all languages; a case's translations share a fold): far more labels than a seeded
    set gets (3 cases per narrative), so it bounds what a head on these vectors can reach."""
    from sklearn.model_selection import GroupKFold

    labels, langs = np.asarray(labels), np.asarray(langs)
    out = {}
    for name, make in probes().items():
        pred = np.empty(len(labels), dtype=labels.dtype)
        for train, test in GroupKFold(folds).split(vectors, labels, groups):
            pred[test] = make().fit(vectors[train], labels[train]).predict(vectors[test])
        out[name] = {
            lang: float((pred[langs == lang] == labels[langs == lang]).mean())
            for lang in sorted(set(langs))
        }
    return out


def voxcheck_ceiling(settings, dev, folds: int) -> dict[str, dict]:
    """`linear_probe_accuracy` on VoxCheck: each quote split, embedded and averaged as the
    evaluation does (`narratives.evaluation.run`), labelled with its narrative."""
    from narratives.core.store import writer
    from narratives.evaluation.labelled import LabelledDoc
    from narratives.evaluation.run import doc_means, embed_documents, eval_database
    from narratives.vectors.step import load_embedder

    rows = [r for r in read_jsonl(dev) if r["lang"] in VOX_LANGS]
    docs = [LabelledDoc(r["id"], r["text"], r["lang"], ()) for r in rows]
    embedder = load_embedder(settings.model)
    with writer(eval_database(settings), settings.lock_wait_s) as con:
        vecs = embed_documents(con, embedder, docs, settings.max_passage_words)
    return linear_probe_accuracy(
        doc_means(vecs, embedder.dim), [r["labels"]["narrative"] for r in rows],
        [r["case_id"] for r in rows], [r["lang"] for r in rows], folds,
    )  # fmt: skip


# --- NTREX: is the embedding path right? -------------------------------------------------------
def bitext_top1(settings, rows, src: str, tgt: str) -> float:
    """Share of source sentences whose nearest target sentence (of all) is their translation.
    e5 is used symmetrically: "query: " on both sides."""
    from narratives.core.store import writer
    from narratives.evaluation.run import eval_database
    from narratives.vectors import store as vector_store
    from narratives.vectors.step import load_embedder

    embedder = load_embedder(settings.model)
    with writer(eval_database(settings), settings.lock_wait_s) as con:
        a, _ = vector_store.embed_cached(con, embedder, [r[src] for r in rows], "query")
        b, _ = vector_store.embed_cached(con, embedder, [r[tgt] for r in rows], "query")
    return float(((a @ b.T).argmax(axis=1) == np.arange(len(rows))).mean())


# --- the table -------------------------------------------------------------------------------
def evaluate(settings, set_dict, data: Path, **kwargs) -> dict:
    from narratives.evaluation.run import run_eval

    set_path = dump_set(taxonomy_to_set(set_dict), data.with_suffix(".set.yaml"))
    return run_eval(settings.replace(narrative_set=set_path), data, **kwargs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=Path("var"))
    ap.add_argument("--semeval", type=Path)
    ap.add_argument("--semeval-taxonomy", type=Path)
    ap.add_argument("--semeval-descriptions", type=Path)
    ap.add_argument("--voxcheck", type=Path)
    ap.add_argument("--voxcheck-taxonomy", type=Path)
    ap.add_argument("--ntrex", type=Path)
    ap.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds for learned methods"
    )
    ap.add_argument("--max-passage-words", type=int, help="passage size (default: the pipeline's)")
    ap.add_argument("--model", help="embedding model (default: the pipeline's, e5-small)")
    ap.add_argument(
        "--ceiling", action="store_true",
        help="also train linear probes on all VoxCheck labels (CV): what the model's vectors allow",
    )  # fmt: skip
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(home=args.home, progress=False).replace(
        max_passage_words=args.max_passage_words, model=args.model
    )
    print(f"model {settings.model}, passages up to {settings.max_passage_words} words, "
          f"scorer {settings.scorer}")  # fmt: skip
    scratch = args.home / "quality"
    scratch.mkdir(parents=True, exist_ok=True)
    table: list[tuple[str, str, str]] = []

    if args.semeval:
        data = semeval_labelled(args.semeval, ("en", "ru"), scratch / "semeval-en-ru.jsonl")
        tax = semeval_taxonomy(args.semeval_taxonomy, args.semeval_descriptions)
        runs = [
            ("exemplar head, zero-shot", dict(method="thresholds"), "exemplar-head"),
            ("max-exemplar, thresholds fitted (CV)", dict(method="fitted-thresholds", folds=args.folds), "max-exemplar"),
            ("logistic head on documents (CV)", dict(method="logistic-head", folds=args.folds), "exemplar-head"),
        ]  # fmt: skip
        for name, kw, scorer in runs:
            rep = evaluate(settings.replace(scorer=scorer), tax, data, **kw)
            for lang in ("en", "ru"):
                m = rep["metrics"][lang]
                table.append((f"SemEval dev {lang.upper()} macro-F1 (samples-F1)", name,
                              f"{m['macro_f1']:.3f} ({m['samples_f1']:.3f})  run {rep['run_id']}"))  # fmt: skip
    if args.voxcheck:
        seeds, rows = voxcheck_split(args.voxcheck)
        # per-language centring needs plenty of unlabelled text per language: NTREX sentences
        centre = (
            ntrex_unlabelled(args.ntrex, scratch / "ntrex-centre.jsonl") if args.ntrex else None
        )
        variants = [(settings, None, "")]
        if centre:
            variants.append((settings.replace(scorer="knn-vote"), centre, ", knn-vote, centred by NTREX"))  # fmt: skip
        for seed_langs, name in ((VOX_LANGS, "seeds en+uk+ru"), (("en",), "seeds en only")):
            tax = voxcheck_taxonomy(args.voxcheck_taxonomy, args.voxcheck, seeds, seed_langs)
            for s, centre_on, suffix in variants:
                for lang in VOX_LANGS:
                    data = voxcheck_labelled(rows, lang, scratch / f"voxcheck-{lang}.jsonl")
                    rep = evaluate(s, tax, data, method="thresholds", centre_on=centre_on)
                    acc = rep["metrics"]["all"]["top1_accuracy"]
                    table.append((f"VoxCheck dev {lang.upper()} accuracy", name + suffix,
                                  f"{acc:.3f}  run {rep['run_id']}"))  # fmt: skip
    if args.voxcheck and args.ceiling:
        for probe, acc in voxcheck_ceiling(settings, args.voxcheck, args.folds).items():
            for lang in VOX_LANGS:
                table.append((f"VoxCheck dev {lang.upper()} accuracy",
                              f"ceiling: {probe} on all labels ({args.folds}-fold CV by case)",
                              f"{acc[lang]:.3f}"))  # fmt: skip
    if args.ntrex:
        rows = read_jsonl(args.ntrex)
        for tgt in ("ru", "uk"):
            table.append((f"NTREX dev EN->{tgt.upper()} top-1", "query/query",
                          f"{bitext_top1(settings, rows, 'en', tgt):.3f}"))  # fmt: skip

    width = [max(len(r[i]) for r in table) for i in range(3)] if table else [0, 0, 0]
    for r in [("measure", "method", "value"), *table]:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
