"""Measuring matching on labelled documents, with the pipeline's own matching code.

A labelled file is JSONL, one document a line: `text`, `lang`, `labels` (or `gold_narratives`, as in
a corpus file; a list of narrative ids
or labels of the set; other labels, e.g. `Other`, mean "none of the set's narratives"), and an
optional `id`. Documents are split into passages exactly as the pipeline splits them, passages
are embedded (vectors cached in a DuckDB file, so a re-run embeds nothing), scored by a
registered scorer, and passage scores are aggregated to one score per document and narrative.

Methods (named in the run record as component `method`):
- `thresholds`: the set's own thresholds (zero-shot);
- `exemplar-thresholds`: per-narrative thresholds fitted on the exemplars alone (no labels);
- `fitted-thresholds`: per-narrative thresholds fitted on labelled training documents;
- `logistic-head`: `narratives.calibration.LogisticHead` trained on labelled documents.
The last two learn from labels: they are trained on a `--train` file, or scored by k-fold
cross-validation over the evaluated documents (each fold predicted by a model that never saw it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import cache
from embeddings.base import Embedder, normalise_text
from narratives import calibration
from narratives.centring import centring_means
from narratives.definitions import NarrativeSet
from narratives.matching import (
    EXEMPLAR_ROLE,
    GENERIC_BACKGROUND,
    ExemplarBank,
    active_ids,
    aggregate,
    score_matrix,
    scorer_parameters,
    thresholds_for,
)
from narratives.passages import TRACKED, split

METHODS = ("thresholds", "exemplar-thresholds", "fitted-thresholds", "logistic-head")
LEARNED = ("fitted-thresholds", "logistic-head")
NONE = "(none)"  # the "none of these" outcome, scored like a narrative


class LabelledDataError(ValueError):
    pass


@dataclass
class LabelledDoc:
    id: str
    text: str
    lang: str
    labels: tuple[str, ...]


def load_labelled(path: str | Path) -> list[LabelledDoc]:
    from narratives.importer import json_rows

    path = Path(path)

    def error(msg: str) -> LabelledDataError:
        hint = (
            "; give a JSONL file of {text, lang, labels} objects" if msg.startswith("file") else ""
        )
        return LabelledDataError(f"{path}: {msg}{hint}")

    docs = []
    for n, row in json_rows(path, error):
        # `gold_narratives` is the corpus format's name (data/demo/corpus.jsonl)
        text, labels = row.get("text"), row.get("labels", row.get("gold_narratives"))
        if not isinstance(text, str) or not text.strip():
            raise LabelledDataError(f"{path}: line {n}: `text` must be a non-empty string")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise LabelledDataError(f"{path}: line {n}: `labels` must be a list of strings")
        docs.append(
            LabelledDoc(str(row.get("id", n)), text, str(row.get("lang") or "und"), tuple(labels))
        )
    if not docs:
        raise LabelledDataError(f"{path}: holds no documents")
    return docs


def gold_matrix(docs: list[LabelledDoc], nset: NarrativeSet, order: list[str]) -> np.ndarray:
    """(docs x narratives) booleans; a label matches a narrative by id or by its label text."""
    by_name = {n.id: n.id for n in nset.narratives} | {n.label: n.id for n in nset.narratives}
    column = {nid: j for j, nid in enumerate(order)}
    gold = np.zeros((len(docs), len(order)), dtype=bool)
    for i, d in enumerate(docs):
        for label in d.labels:
            nid = by_name.get(label)
            if nid in column:
                gold[i, column[nid]] = True
    return gold


# --- vectors and scores ----------------------------------------------------------------------
def embed_documents(
    con, embedder: Embedder, docs: list[LabelledDoc], max_words: int, progress: bool = False
) -> list[np.ndarray]:
    """Each document's passage vectors, split like the pipeline splits, cached in `con`."""
    texts_per_doc = [
        [p.text for p in split(d.text, max_words, d.lang if d.lang in TRACKED else None)]
        for d in docs
    ]
    flat = [t for texts in texts_per_doc for t in texts]
    vectors, _ = cache.embed_cached(con, embedder, flat, "passage", progress=progress)
    out, start = [], 0
    for texts in texts_per_doc:
        out.append(vectors[start : start + len(texts)].reshape(len(texts), -1))
        start += len(texts)
    return out


def exemplar_bank(con, nset: NarrativeSet, embedder: Embedder) -> ExemplarBank:
    ids, langs, texts = ExemplarBank.texts_of(nset)
    vectors, _ = cache.embed_cached(con, embedder, texts, EXEMPLAR_ROLE)
    return ExemplarBank(ids, langs, texts, vectors)


def document_scores(
    doc_vectors: list[np.ndarray], bank: ExemplarBank, order: list[str], scorer: str, how: str,
    doc_langs: list[str] | None = None, lang_means: dict | None = None,
) -> np.ndarray:  # fmt: skip
    """(docs x narratives): each document's passage scores aggregated with `how`; with
    `lang_means`, passages (in their document's language) and bank are centred by language."""
    flat = np.vstack([v for v in doc_vectors if len(v)] or [np.zeros((0, bank.vectors.shape[1]))])
    langs = None
    if lang_means:
        langs = [lang for v, lang in zip(doc_vectors, doc_langs, strict=True) for _ in range(len(v))]  # fmt: skip
    scores = score_matrix(
        flat.astype(np.float32), bank, order, scorer, passage_langs=langs, lang_means=lang_means
    )[0]
    out, start = np.full((len(doc_vectors), len(order)), -1.0, np.float32), 0
    for i, v in enumerate(doc_vectors):
        if len(v):
            out[i] = aggregate(scores[start : start + len(v)], how)
        start += len(v)
    return out


def doc_means(doc_vectors: list[np.ndarray], dim: int) -> np.ndarray:
    out = np.zeros((len(doc_vectors), dim), dtype=np.float32)
    for i, v in enumerate(doc_vectors):
        if len(v):
            m = v.mean(axis=0)
            out[i] = m / max(np.linalg.norm(m), 1e-9)
    return out


# --- methods ---------------------------------------------------------------------------------
@dataclass
class Features:
    """What the methods see of a batch of documents."""

    scores: np.ndarray  # docs x narratives, aggregated
    means: np.ndarray  # docs x dim, mean passage vector

    def take(self, idx) -> Features:
        return Features(self.scores[idx], self.means[idx])


def predict(
    method: str,
    test: Features,
    order: list[str],
    defaults: np.ndarray,
    *,
    train: Features | None = None,
    train_gold: np.ndarray | None = None,
    bank: ExemplarBank | None = None,
    scorer: str = "max-exemplar",
    head_c: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(predicted booleans, ranking scores, fitted parameters) for the test documents."""
    if method == "thresholds":
        return test.scores >= defaults, test.scores, {}
    if method == "exemplar-thresholds":
        fitted = calibration.exemplar_thresholds(bank, order, scorer, defaults)
        cut = np.array([fitted[n] for n in order], dtype=np.float32)
        return test.scores >= cut, test.scores, {"thresholds": fitted}
    if train is None or train_gold is None:
        raise ValueError(f"method {method!r} learns from labels: give --train FILE or --cv K")
    if method == "fitted-thresholds":
        fitted = calibration.fit_thresholds(train.scores, train_gold, order, defaults)
        cut = np.array([fitted[n] for n in order], dtype=np.float32)
        return test.scores >= cut, test.scores, {"thresholds": fitted}
    if method == "logistic-head":
        head = calibration.LogisticHead(order, c=head_c)
        x_ex = None
        if bank is not None:
            ex_scores = score_matrix(bank.vectors, bank, order, scorer)[0]
            x_ex = head.features(bank.vectors, ex_scores)
        head.fit(
            head.features(train.means, train.scores), train_gold, x_ex,
            bank.narrative_ids if bank is not None else None,
        )  # fmt: skip
        proba = head.predict_proba(head.features(test.means, test.scores))
        return proba >= 0.5, proba, {"head_c": head_c, "trained_narratives": sorted(head.models)}
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def cross_validated(
    method: str, feats: Features, gold: np.ndarray, order, defaults, folds: int, seed: int = 0,
    groups: list | None = None, **kwargs,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Out-of-fold predictions: each document predicted by a model fitted on the other folds.
    Documents of one group always share a fold (without `groups`, each document is its own);
    `run_eval` groups by normalised text, since SemEval dev has identical articles under two ids
    and no text should be scored by a model trained on its copy."""
    rng = np.random.default_rng(seed)
    keys = list(groups) if groups is not None else list(range(len(gold)))
    distinct = list(dict.fromkeys(keys))
    fold_of = dict(zip(distinct, rng.permutation(len(distinct)) % folds, strict=True))
    assign = np.array([fold_of[k] for k in keys])
    pred = np.zeros_like(gold)
    rank = np.zeros(gold.shape, dtype=np.float32)
    for f in range(folds):
        test, train = np.flatnonzero(assign == f), np.flatnonzero(assign != f)
        p, r, _ = predict(
            method, feats.take(test), order, defaults,
            train=feats.take(train), train_gold=gold[train], **kwargs,
        )  # fmt: skip
        pred[test], rank[test] = p, r
    return pred, rank


# --- metrics ---------------------------------------------------------------------------------
def _prf(tp: int, fp: int, fn: int) -> dict:
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
            n: _prf(int((gs[:, j] & ps[:, j]).sum()), int((~gs[:, j] & ps[:, j]).sum()),
                    int((gs[:, j] & ~ps[:, j]).sum()))
            for j, n in enumerate(names)
        }  # fmt: skip
        supported = [v["f1"] for v in per.values() if v["support"]]
        micro = _prf(*(sum(v[k] for v in per.values()) for k in ("tp", "fp", "fn")))
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


# --- a recorded evaluation run ---------------------------------------------------------------
def eval_database(settings) -> Path:
    """The DuckDB file evaluations use: its `runs` table and the embedding cache."""
    return settings.home / "eval.duckdb"


def run_eval(
    settings,
    data: str | Path,
    *,
    method: str = "thresholds",
    train: str | Path | None = None,
    folds: int = 0,
    aggregation: str = "max",
    head_c: float = 1.0,
    centre_on: str | Path | None = None,
    out_dir: str | Path | None = None,
    embedder: Embedder | None = None,
) -> dict:
    """Evaluate the set in `settings.narrative_set` on a labelled file; record the run in
    `runs` (components, parameters, model id, the headline numbers) and write
    `<out_dir>/eval-<run>.md` and `.json`. With `centre_on` (unlabelled {text, lang} JSONL),
    passages and exemplars are centred by language before scoring. Returns the report."""
    from narratives import runs
    from narratives.definitions import load_set
    from narratives.pipeline import LANGID, SPLITTER, load_embedder
    from narratives.store import writer

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method in LEARNED and not train and folds < 2:
        raise ValueError(f"method {method!r} learns from labels: give --train FILE or --cv K (K >= 2)")  # fmt: skip
    nset = load_set(settings.narrative_set)
    docs = load_labelled(data)
    train_docs = load_labelled(train) if train else None
    embedder = embedder or load_embedder(settings.model)
    order = active_ids(nset)
    defaults = thresholds_for(nset, order, None, settings.scorer)
    components = {
        "embedder": settings.model, "splitter": SPLITTER, "langid": LANGID,
        "scorer": settings.scorer, "background": GENERIC_BACKGROUND,
        "aggregation": aggregation, "method": method,
        "index": "faiss-flat-ip",
        "centring": "by-language" if centre_on else None,
    }  # fmt: skip
    parameters = {
        "max_passage_words": settings.max_passage_words, **scorer_parameters(settings.scorer),
        "data": str(data), "train": str(train) if train else None,
        "cv_folds": folds if not train else 0, "doc_head_c": head_c,
        "centre_on": str(centre_on) if centre_on else None,
    }  # fmt: skip
    with writer(eval_database(settings), settings.lock_wait_s) as con:
        run_id = runs.start_run(
            con, "eval", components=components, parameters=parameters,
            model_id=embedder.model_id, set_id=nset.id, set_version=nset.version,
        )  # fmt: skip
        try:
            bank = exemplar_bank(con, nset, embedder)
            means = centring_means(con, embedder, centre_on) if centre_on else None

            def features(batch):
                vecs = embed_documents(
                    con, embedder, batch, settings.max_passage_words, settings.progress
                )
                return Features(
                    document_scores(
                        vecs,
                        bank,
                        order,
                        settings.scorer,
                        aggregation,
                        [d.lang for d in batch],
                        means,
                    ),  # fmt: skip
                    doc_means(vecs, embedder.dim),
                )

            feats, gold = features(docs), gold_matrix(docs, nset, order)
            kwargs = {"bank": bank, "scorer": settings.scorer, "head_c": head_c}
            fitted: dict = {}
            if method in LEARNED and train_docs is None:
                groups = [normalise_text(d.text) for d in docs]
                pred, rank = cross_validated(
                    method, feats, gold, order, defaults, folds, groups=groups, **kwargs
                )
            else:
                tr = features(train_docs) if train_docs else None
                tg = gold_matrix(train_docs, nset, order) if train_docs else None
                pred, rank, fitted = predict(
                    method, feats, order, defaults, train=tr, train_gold=tg, **kwargs
                )
            report = {
                "run_id": run_id, "data": str(data), "set": f"{nset.id}@{nset.version}",
                "model_id": embedder.model_id, "scorer": settings.scorer,
                "aggregation": aggregation, "method": method,
                "trained_on": str(train) if train else (f"{folds}-fold CV" if method in LEARNED else None),
                "fitted": fitted, "metrics": metrics(docs, gold, pred, rank, order),
            }  # fmt: skip
            out = Path(out_dir) if out_dir else settings.home / "reports"
            out.mkdir(parents=True, exist_ok=True)
            (out / f"eval-{run_id}.json").write_text(json.dumps(report, indent=1), "utf-8")
            (out / f"eval-{run_id}.md").write_text(markdown(report), "utf-8")
            report["paths"] = [str(out / f"eval-{run_id}.md"), str(out / f"eval-{run_id}.json")]
            headline = {
                name: {k: m[k] for k in ("documents", "macro_f1", "micro_f1", "samples_f1", "top1_accuracy")}
                for name, m in report["metrics"].items()
            }  # fmt: skip
            runs.update_run(con, run_id, counts={"documents": len(docs), "metrics": headline})
            runs.finish_run(con, run_id, "ok")
        except BaseException as exc:
            runs.finish_run(con, run_id, "failed", exc)
            raise
    return report
