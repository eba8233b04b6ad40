"""Issue 15's hot paths, each old path against its replacement in one interleaved run.

    .venv/bin/python -m benchmarks.hot_paths [--rounds 5] [--stored 10000] [--only embed dedup match]

Old and new alternate round by round (old first in odd rounds, new first in even ones), so a
change in the machine's load falls on both; each ratio is the median over rounds of old/new.
Inputs are real distinct texts: the demo corpus's passages (EN/RU/UK) and synthetic documents of
NTREX sentences (benchmarks/workloads.py). The old paths are kept here, copied from the code they
replaced, so that the comparison can be rerun after the change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.workloads import synthetic_documents
from embeddings.base import l2_normalise

ROOT = Path(__file__).resolve().parents[1]


def interleaved(old, new, rounds: int) -> dict:
    """Median seconds of each and the median of per-round ratios old/new."""
    t_old, t_new = [], []
    for r in range(rounds):
        pair = [(old, t_old), (new, t_new)]
        for fn, times in pair if r % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    ratios = [a / b for a, b in zip(t_old, t_new, strict=True)]
    return {"old_s": statistics.median(t_old), "new_s": statistics.median(t_new),
            "ratio": statistics.median(ratios), "rounds": rounds}  # fmt: skip


def demo_passages() -> list[str]:
    from narratives.ingest.sources.corpus import read_jsonl
    from narratives.passages import split

    docs = read_jsonl(ROOT / "data" / "demo" / "corpus.jsonl")
    seen, out = set(), []
    for d in docs:
        for p in split.split(d.text):
            if p.text not in seen:
                seen.add(p.text)
                out.append(p.text)
    return out


def synthetic_passages(n_docs: int) -> list[str]:
    from narratives.passages import split

    docs = synthetic_documents(n_docs, seed=3)
    return [p.text for d in docs for p in split.split(d["text"])]


# --- 1. embedding ----------------------------------------------------------------------------
def bench_embed(rounds: int) -> dict:
    from embeddings import get_embedder

    e5 = get_embedder("e5-small")
    load = e5.load()
    # one embed-step chunk (EMBED_CHUNK): the demo's distinct passages, then NTREX documents'
    texts = (demo_passages() + synthetic_passages(200))[:512]
    e5.embed(texts[:64])  # warm the session's kernels

    def old():  # the embed step's old path: embed_batch handed 32 texts at a time
        return np.vstack([e5.embed_batch(texts[s : s + 32], "passage") for s in range(0, 512, 32)])

    def new():
        return e5.embed(texts, "passage", batch_size=32)

    lengths = [len(e.ids) for e in e5._tokenizer.encode_batch(["passage: " + t for t in texts])]

    def padded(span: int) -> float:
        total = 0
        for s in range(0, len(lengths), span):
            part = sorted(lengths[s : s + span])
            total += sum(
                max(part[b : b + 32]) * len(part[b : b + 32]) for b in range(0, len(part), 32)
            )
        return total / sum(lengths)

    result = interleaved(old, new, rounds)
    cos = np.sum(l2_normalise(old()) * new(), axis=1)
    return result | {"texts": len(texts), "padding_old": padded(32), "padding_new": padded(512),
                     "min_cosine_old_new": float(cos.min()), "load": load}  # fmt: skip


# --- 2. dedup --------------------------------------------------------------------------------
def per_document(con, docs: list[tuple[int, str]]) -> dict:
    """The path `Deduper.find_all` replaced: two queries per document (tests/test_hot_paths.py
    checks the two decide alike)."""
    from narratives.ingest import dedup

    finder, edges = dedup.Deduper(con), {}
    for doc_id, text in docs:
        copy, sig = finder.find(text)
        if copy is None:
            finder.add_original(doc_id, text, sig)
        else:
            edges[doc_id] = copy
    return edges


def bench_dedup(rounds: int, stored_n: int, new_n: int = 300) -> dict:
    from narratives.core.store import writer
    from narratives.ingest import dedup
    from narratives.ingest.model import RawDocument
    from narratives.ingest.sources.corpus import read_jsonl
    from narratives.ingest.store import store_documents

    def raw(rows):
        return [RawDocument(r["id"], r["text"], r["outlet"], lang=r["lang"],
                            published_at=dt.datetime.fromisoformat(r["published_at"]))
                for r in rows]  # fmt: skip

    stored = synthetic_documents(stored_n, seed=1)
    later = synthetic_documents(new_n, seed=2, start_id=stored_n)
    demo = list(read_jsonl(ROOT / "data" / "demo" / "corpus.jsonl"))
    with tempfile.TemporaryDirectory() as tmp, writer(Path(tmp) / "d.duckdb") as con:
        started = time.perf_counter()
        store_documents(con, "synthetic", raw(stored))
        store_documents(con, "demo", demo[:150])
        fill_s = time.perf_counter() - started
        texts = [r["text"] for r in later] + [d.text for d in demo[150:]]
        texts += ["BREAKING: " + d.text for d in demo[:20]] + [
            r["text"].upper() for r in stored[:20]
        ]
        batch = [(10**9 + i, t) for i, t in enumerate(texts)]

        def old():
            return per_document(con, batch)

        def new():
            return dedup.Deduper(con).find_all(batch)

        same = old() == new()
        result = interleaved(old, new, rounds)
    return result | {"stored": stored_n + 150, "new": len(batch), "same_decisions": same,
                     "fill_s": fill_s, "old_ms_per_doc": 1000 * result["old_s"] / len(batch),
                     "new_ms_per_doc": 1000 * result["new_s"] / len(batch)}  # fmt: skip


# --- 3. exemplar scoring ---------------------------------------------------------------------
def _faiss_similarities(passages, bank):
    """cosine.similarities before issue 15: a FAISS flat search over every bank row."""
    import faiss

    index = faiss.IndexFlatIP(bank.vectors.shape[1])
    index.add(np.ascontiguousarray(bank.vectors, dtype=np.float32))
    sims, rows = index.search(np.ascontiguousarray(passages, dtype=np.float32), len(bank.texts))
    out = np.empty_like(sims)
    np.put_along_axis(out, rows, sims, axis=1)
    return out


def bench_match(rounds: int, chunks: int = 3) -> dict:
    from embeddings import get_embedder
    from narratives.core.settings import Settings
    from narratives.matching import bank as bank_mod
    from narratives.matching.scorers import cosine
    from narratives.matching.scorers.head import ExemplarHead
    from narratives.matching.sets import load_set

    e5 = get_embedder("e5-small")
    nset = load_set(Settings().narrative_set)
    ids, langs, texts = bank_mod.ExemplarBank.texts_of(nset)
    bank = bank_mod.ExemplarBank(ids, langs, texts, e5.embed(texts, "passage"))
    order = bank_mod.active_ids(nset)
    # passage vectors: the demo's real passages, each moved a little so that 4,096 are distinct
    real = e5.embed(demo_passages()[:512], "passage")
    rng = np.random.default_rng(0)
    n = 4096 * chunks
    passages = l2_normalise(real[rng.integers(0, len(real), n)] + rng.normal(0, 0.02, (n, 384)))
    parts = [passages[s : s + 4096] for s in range(0, n, 4096)]

    def old_sims():
        return [_faiss_similarities(p, bank) for p in parts]

    def new_sims():
        return [cosine.similarities(p, bank) for p in parts]

    sims = interleaved(old_sims, new_sims, rounds)
    sims["max_abs_diff"] = float(
        max(np.abs(a - b).max() for a, b in zip(old_sims(), new_sims(), strict=True))
    )

    def old_head():  # a fresh scorer per chunk refits, and the cosines go through FAISS
        saved = cosine.similarities
        cosine.similarities = _faiss_similarities
        try:
            return [ExemplarHead().score(p, bank, order)[0] for p in parts]
        finally:
            cosine.similarities = saved

    head = ExemplarHead()

    def new_head():
        head._fitted = None  # one fit per match step, as the step makes one scorer per run
        return [head.score(p, bank, order)[0] for p in parts]

    same = all(np.allclose(a, b, atol=1e-5) for a, b in zip(old_head(), new_head(), strict=True))
    result = interleaved(old_head, new_head, rounds)
    return {"similarities": sims, "head": result | {"same_scores": same, "chunks": chunks,
            "bank_rows": len(texts), "narratives": len(order)}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--stored", type=int, default=10_000)
    ap.add_argument("--only", nargs="*", default=["embed", "dedup", "match"])
    args = ap.parse_args()
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True)
    out = {
        "cpu": cpu.stdout.split(":", 1)[-1].strip(),
        "load_start": Path("/proc/loadavg").read_text().split()[:3],
    }
    if "embed" in args.only:
        out["embed"] = bench_embed(args.rounds)
        print(json.dumps(out["embed"], indent=1), flush=True)
    if "dedup" in args.only:
        out["dedup"] = bench_dedup(args.rounds, args.stored)
        print(json.dumps(out["dedup"], indent=1), flush=True)
    if "match" in args.only:
        out["match"] = bench_match(args.rounds)
        print(json.dumps(out["match"], indent=1), flush=True)
    out["load_end"] = Path("/proc/loadavg").read_text().split()[:3]
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "hot_paths.json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("cpu", "load_start", "load_end")}))


if __name__ == "__main__":
    main()
