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
- `logistic-head`: `narratives.matching.calibration.LogisticHead` trained on labelled documents.
The last two learn from labels: they are trained on a `--train` file, or scored by k-fold
cross-validation over the evaluated documents (each fold predicted by a model that never saw it).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.base import Embedder, normalise_text
from narratives.core import runs
from narratives.core.langs import TRACKED
from narratives.core.store import writer
from narratives.evaluation.counted import count_documents, in_window
from narratives.evaluation.labelled import LabelledDoc, gold_matrix, load_labelled
from narratives.evaluation.metrics import markdown, metrics
from narratives.matching import calibration
from narratives.matching.bank import GENERIC_BACKGROUND, ExemplarBank, active_ids, embed_bank
from narratives.matching.base import Scorer, aggregate, get_scorer, score_matrix, scorer_parameters
from narratives.matching.centring import centring_means
from narratives.matching.judges import Judges
from narratives.matching.judges import components as judge_components
from narratives.matching.judges import parameters as judge_parameters
from narratives.matching.sets import load_set
from narratives.passages.langid import LANGID
from narratives.passages.split import SPLITTER, split
from narratives.vectors.step import load_embedder
from narratives.vectors.store import embed_cached

METHODS = ("thresholds", "exemplar-thresholds", "fitted-thresholds", "logistic-head")
LEARNED = ("fitted-thresholds", "logistic-head")

__all__ = ["LEARNED", "METHODS", "LabelledDoc", "load_labelled", "run_eval"]


# --- vectors and scores ----------------------------------------------------------------------
def passage_texts(docs: list[LabelledDoc], max_words: int) -> list[list[str]]:
    """Each document's passages, split like the pipeline splits."""
    return [
        [p.text for p in split(d.text, max_words, d.lang if d.lang in TRACKED else None)]
        for d in docs
    ]


def embed_documents(
    con, embedder: Embedder, docs: list[LabelledDoc], max_words: int, progress: bool = False
) -> list[np.ndarray]:
    """Each document's passage vectors, split like the pipeline splits, cached in `con`."""
    texts_per_doc = passage_texts(docs, max_words)
    flat = [t for texts in texts_per_doc for t in texts]
    vectors, _ = embed_cached(con, embedder, flat, "passage", progress=progress)
    out, start = [], 0
    for texts in texts_per_doc:
        out.append(vectors[start : start + len(texts)].reshape(len(texts), -1))
        start += len(texts)
    return out


def document_scores(
    doc_vectors: list[np.ndarray], bank: ExemplarBank, order: list[str], scorer: str | Scorer, how: str,
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
    scorer: str | Scorer = "max-exemplar",
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


def _counted(con, embedder, settings, nset, bank, scorer, docs, order) -> np.ndarray:
    """(documents x narratives): what the pipeline would count (`count_documents`)."""
    texts_per_doc = passage_texts(docs, settings.max_passage_words)
    texts = [t for ts in texts_per_doc for t in ts]
    owner = np.array([i for i, ts in enumerate(texts_per_doc) for _ in ts], dtype=int)
    vectors, _ = embed_cached(con, embedder, texts, "passage")  # cached by the features already
    judges, _ = Judges.fit(con, nset, embedder, settings)
    scorer.prepare(bank, nset)
    window = np.array([in_window(nset.event, d.date) for d in docs], dtype=bool)
    got = count_documents(vectors, texts, owner, len(docs), scorer=scorer, bank=bank, nset=nset,
                          judges=judges, top_k=settings.top_k_matches, inside_window=window)  # fmt: skip
    return got.matrix(order)


# --- a recorded evaluation run ---------------------------------------------------------------
def eval_database(settings) -> Path:
    """The DuckDB file evaluations use: its `runs` table and the embedding cache."""
    return settings.eval_database


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
    counted: bool = False,
) -> dict:
    """Evaluate the set in `settings.narrative_set` on a labelled file; record the run in
    `runs` (components, parameters, model id, the headline numbers) and write
    `<out_dir>/eval-<run>.md` and `.json`. With `centre_on` (unlabelled {text, lang} JSONL),
    passages and exemplars are centred by language before scoring. With `counted`, a document
    has a narrative when the pipeline would count it (`narratives.evaluation.counted`: a passage
    confirmed and asserting it, the document in the event's scope), what `narratives agreement`
    measures on a stored run; the set's thresholds only. Returns the report."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if counted and method != "thresholds":
        raise ValueError(
            "--counted applies the pipeline's own decisions: use it without --method, --train or --cv"
        )
    if method in LEARNED and not train and folds < 2:
        raise ValueError(f"method {method!r} learns from labels: give --train FILE or --cv K (K >= 2)")  # fmt: skip
    nset = load_set(settings.narrative_set)
    docs = load_labelled(data)
    train_docs = load_labelled(train) if train else None
    embedder = embedder or load_embedder(settings.model, settings.models_dir)
    order = active_ids(nset)
    scorer = get_scorer(settings.scorer, settings)
    defaults = scorer.thresholds(nset, order)
    components = {
        "embedder": settings.model, "splitter": SPLITTER, "langid": LANGID,
        "scorer": settings.scorer, "background": GENERIC_BACKGROUND,
        "aggregation": aggregation, "method": method,
        "index": "faiss-flat-ip",
        "centring": "by-language" if centre_on else None,
        **(judge_components() if counted else {}),
    }  # fmt: skip
    parameters = {
        "max_passage_words": settings.max_passage_words, **scorer_parameters(settings.scorer, settings),
        "data": str(data), "train": str(train) if train else None,
        "cv_folds": folds if not train else 0, "doc_head_c": head_c,
        "centre_on": str(centre_on) if centre_on else None, "counted": counted,
        **(judge_parameters(settings) if counted else {}),
    }  # fmt: skip
    with (
        writer(eval_database(settings), settings.lock_wait_s) as con,
        # the evaluation holds its database for its whole length: the record shares that connection
        runs.run_record(
            lambda: nullcontext(con), "eval", components=components, parameters=parameters,
            model_id=embedder.model_id, set_id=nset.id, set_version=nset.version,
        ) as run,
    ):  # fmt: skip
        run_id = run.id
        bank, _ = embed_bank(con, nset, embedder)
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
                    scorer,
                    aggregation,
                    [d.lang for d in batch],
                    means,
                ),  # fmt: skip
                doc_means(vecs, embedder.dim),
            )

        feats, gold = features(docs), gold_matrix(docs, nset, order)
        kwargs = {"bank": bank, "scorer": scorer, "head_c": head_c}
        fitted: dict = {}
        if method in LEARNED and train_docs is None:
            groups = [normalise_text(d.text) for d in docs]
            pred, rank = cross_validated(
                method, feats, gold, order, defaults, folds, groups=groups, **kwargs
            )
        elif counted:
            pred, rank = (
                _counted(con, embedder, settings, nset, bank, scorer, docs, order),
                feats.scores,
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
            "aggregation": aggregation, "method": method, "counted": counted,
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
    return report
