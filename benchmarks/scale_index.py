"""The index at scale: sharded IVF-PQ with exact re-rank on N synthetic clustered vectors.

    .venv/bin/python -m benchmarks.scale_index --out benchmarks/results/scale_index_2m.json
    .venv/bin/python -m benchmarks.scale_index --n 200000 --out /tmp/scale_small.json  # ~1 min

Generator (`clustered_stream`), calibrated to the demo corpus's real multilingual-e5-small
vectors (646 passages: mean-vector norm 0.89, median pair cosine 0.79, the top 10 / 50 / 100
principal directions hold 35 / 68 / 84% of the centred variance):
- one shared direction (e5 vectors all lean one way) plus a centred part whose variance decays
  as a power law over 383 directions, the whole rotated by a random orthogonal matrix;
- n/400 topics with Zipf-like weights (rank^-0.8: heavy-tailed, the largest ~3% of 2M), 8
  sub-topics each with Dirichlet(0.5) shares;
- stories of ~8 passages (Pareto(1.5) sizes: one event retold by several outlets), made fresh
  in every 100k chunk since events are local in time, each with a log-normal spread;
- 30% of topics are born part-way through the stream (news drifts: the index is trained on
  the first `train_threshold` vectors and must still file later stories well);
- 3% of each chunk are near-copies (reprints) of another passage of the chunk.
Queries are 1,000 held-out passages drawn along the stream (never indexed). Ground truth is
exact inner-product search (FAISS IndexFlatIP over blocks, merged). The benchmark prints
checks of the generator (nearest-neighbour cosines, pair cosines, spectrum, topic sizes).
At most two copies of the N x 384 float32 matrix live at once: the matrix itself and the
index's float16 re-rank copy (half its size); the matrix is dropped before search is timed.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384


def clustered_stream(n: int, n_queries: int, dim: int = DIM, seed: int = 0,
                     chunk: int = 100_000):  # fmt: skip
    """Yield (base chunk, query chunk) float32 unit vectors, in stream order."""
    rng = np.random.default_rng(seed)
    topics, subs = max(50, n // 400), 8
    scale = np.arange(1, dim, dtype=np.float64) ** -0.45
    scale = (scale / np.sqrt((scale**2).sum())).astype(np.float32)  # E|z*scale|^2 = 1

    def spectral(*shape):
        return rng.standard_normal((*shape, dim - 1), dtype=np.float32) * scale

    topic_w = rng.permutation(np.arange(1, topics + 1) ** -0.8)  # Zipf-like: heavy tail
    birth = np.where(rng.random(topics) < 0.3, rng.random(topics), 0.0)
    sub_w = rng.dirichlet(np.full(subs, 0.5), topics)
    centres = (0.34 * spectral(topics)[:, None, :] + 0.18 * spectral(topics, subs)).reshape(
        topics * subs, dim - 1
    )
    rotation = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    chunks = -(-n // chunk)
    for c in range(chunks):
        nb = min(chunk, n - c * chunk)
        nq = n_queries * (c + 1) // chunks - n_queries * c // chunks
        m = nb + nq
        # stories: one event retold by several outlets (and languages) within a few days, so
        # each chunk of the stream has its own; sizes are heavy-tailed (mean ~8)
        stories = m // 8
        p = (topic_w * (birth <= c / chunks))[:, None] * sub_w
        story_sub = rng.choice(topics * subs, stories, p=(p / p.sum()).ravel())
        story_c = centres[story_sub] + 0.22 * spectral(stories)
        story_spread = (0.24 * rng.lognormal(0.0, 0.25, stories)).astype(np.float32)
        size_w = rng.pareto(1.5, stories) + 1.0
        story = rng.choice(stories, m, p=size_w / size_w.sum())
        x = np.empty((m, dim), np.float32)
        x[:, 0] = 1.0  # the shared direction
        x[:, 1:] = story_c[story] + story_spread[story, None] * spectral(m)
        copies = rng.choice(m, int(0.03 * m), replace=False)  # reprints: near-exact copies
        x[copies, 1:] = x[rng.integers(0, m, len(copies)), 1:] + 0.03 * spectral(len(copies))
        x = x @ rotation
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        held = np.zeros(m, bool)
        held[rng.choice(m, nq, replace=False)] = True
        yield x[~held], x[held], story_sub[story][~held]


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int, block: int = 250_000):
    """Brute-force inner product: IndexFlatIP over blocks of the base, merged (no 2nd copy)."""
    import faiss

    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for s in range(0, len(base), block):
        flat = faiss.IndexFlatIP(base.shape[1])
        flat.add(base[s : s + block])
        d, i = flat.search(queries, k)
        heap.add_result(d, np.where(i >= 0, i + s, -1))
    heap.finalize()
    return heap.D, heap.I


def recall_at(truth: np.ndarray, found: np.ndarray, k: int = 10) -> float:
    return float(
        np.mean([len(set(t[:k]) & set(f[:k])) / k for t, f in zip(truth, found, strict=True)])
    )


def latencies(index, queries: np.ndarray, k: int = 10) -> np.ndarray:
    out = np.empty(len(queries))
    for j, q in enumerate(queries):  # one query at a time, as `narratives search` asks
        t = time.perf_counter()
        index.search(q[None], k)
        out[j] = (time.perf_counter() - t) * 1000
    return out


def rss() -> dict:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "RssAnon", "RssFile", "VmHWM")):
            key, value = line.split(":")
            fields[key] = int(value.split()[0]) * 1024
    return fields


def generator_checks(base, truth_scores, subs, n) -> dict:
    rng = np.random.default_rng(1)
    sample = base[rng.choice(len(base), 4000, replace=False)]
    pairs = np.einsum("ij,ij->i", sample[:2000], sample[2000:])
    centred = sample - sample.mean(0)
    ev = np.linalg.eigvalsh(centred.T @ centred)[::-1]
    ev = ev / ev.sum()
    sizes = np.bincount(subs // 8)
    return {
        "mean_vector_norm": round(float(np.linalg.norm(sample.mean(0))), 3),
        "pair_cosine_p1_p50_p99": np.percentile(pairs, [1, 50, 99]).round(3).tolist(),
        "nn_cosine_p5_p25_p50_p75_p95": np.percentile(truth_scores[:, 0], [5, 25, 50, 75, 95])
        .round(3)
        .tolist(),
        "tenth_nn_cosine_p50": round(float(np.median(truth_scores[:, 9])), 3),
        "variance_top10_50_100": [round(float(ev[:j].sum()), 3) for j in (10, 50, 100)],
        "topics": int((sizes > 0).sum()),
        "largest_topic_share": round(float(sizes.max() / n), 4),
        "topic_size_p50_p90_p99": np.percentile(sizes[sizes > 0], [50, 90, 99])
        .astype(int)
        .tolist(),
    }


def measure(work: Path, mode: str) -> dict:
    """Load the saved index (`mode` mmap or memory), time single queries, report memory."""
    from narratives.vectors import shards

    queries, truth = np.load(work / "queries.npy"), np.load(work / "truth.npy")
    base = rss()
    t0 = time.perf_counter()
    index = shards.ShardedIndex.load(work / "index", mmap=mode == "mmap")
    out = {"load_s": round(time.perf_counter() - t0, 2)}
    loaded = rss()
    out["rss_loaded"] = {key: loaded[key] - base[key] for key in ("RssAnon", "RssFile")}
    if mode == "mmap":
        out["sweep"] = []
        for nprobe in (32, 64, 128):
            for kf in (10, 20, 50):
                index.tune(nprobe, kf)
                found = index.search(queries, 10)[1]
                lat = latencies(index, queries[:300])
                out["sweep"].append({"nprobe": nprobe, "k_factor": kf,
                                     "recall@10": round(recall_at(truth, found), 4),
                                     "p50_ms": round(float(np.median(lat)), 2)})  # fmt: skip
        index.tune(shards.NPROBE, shards.K_FACTOR)
    lat = latencies(index, queries)
    found = index.search(queries, 10)[1]
    out["search"] = {
        "nprobe": index.nprobe, "k_factor": index.k_factor,
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "recall@10": round(recall_at(truth, found), 4),
        "recall@1": round(recall_at(truth, found, 1), 4),
    }  # fmt: skip
    after = rss()
    out["rss_after_queries"] = {key: after[key] - base[key] for key in ("RssAnon", "RssFile")}
    out["peak_rss"] = after["VmHWM"]
    return out


def main(argv=None) -> int:
    import faiss

    from narratives.vectors import shards

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--shard-size", type=int, help="default: 1M, or n/2 when n is under 2M")
    ap.add_argument("--train-threshold", type=int, help="default: 1M, or n/2 when n is under 2M")
    ap.add_argument("--work", type=Path, default=None, help="where the index is saved (temp)")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--measure", nargs=2, metavar=("DIR", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:  # the search half, in a fresh process (see below)
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1])))
        return 0
    work = Path(tempfile.mkdtemp(prefix="scale_index_", dir=args.work))
    n, k = args.n, 10
    args.shard_size = args.shard_size or min(shards.SHARD_SIZE, n // 2)
    args.train_threshold = args.train_threshold or min(shards.TRAIN_THRESHOLD, n // 2)
    res: dict = {"n": n, "dim": DIM, "queries": args.queries, "machine": platform.processor()
                 or platform.machine(), "faiss": faiss.__version__,
                 "threads": faiss.omp_get_max_threads(), "started": time.strftime("%F %T")}  # fmt: skip

    t0 = time.perf_counter()
    base = np.empty((n, DIM), np.float32)
    subs = np.empty(n, np.int64)
    queries, at = [], 0
    for b, q, sub in clustered_stream(n, args.queries):
        base[at : at + len(b)], subs[at : at + len(b)] = b, sub
        queries.append(q)
        at += len(b)
    queries = np.vstack(queries)
    res["generate_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    truth_d, truth = exact_top_k(base, queries, k)
    res["exact_batch_ms_per_query"] = round((time.perf_counter() - t0) * 1000 / len(queries), 2)
    res["generator"] = generator_checks(base, truth_d, subs, n)
    del subs
    print("generator:", json.dumps(res["generator"]), flush=True)

    ids = np.arange(1, n + 1, dtype=np.int64)  # passage ids, in stream order
    truth_ids = ids[truth]
    index = shards.ShardedIndex(DIM, args.shard_size, args.train_threshold)
    t0 = time.perf_counter()
    train_s = 0.0
    for s in range(0, n, 100_000):  # in chunks, as sync_index streams them from DuckDB
        before, t1 = index.is_trained, time.perf_counter()
        index.add(ids[s : s + 100_000], base[s : s + 100_000])
        if index.is_trained and not before:
            train_s = time.perf_counter() - t1
    res["build_s"] = round(time.perf_counter() - t0, 1)
    res["train_and_file_s"] = round(train_s, 1)  # training + filing the first threshold's vectors
    res["params"] = {"nlist": index.nlist, "m": index.m, "nbits": index.nbits,
                     "shard_size": index.shard_size, "shards": len(index.stores),
                     "train_threshold": index.train_threshold,
                     "rerank_dtype": index.rerank_dtype.name}  # fmt: skip
    t0 = time.perf_counter()
    index.save(work / "index")
    res["save_s"] = round(time.perf_counter() - t0, 1)
    res["memory_model_bytes"] = index.memory_bytes()
    del index, base, ids
    gc.collect()

    disk = {}
    for f in (work / "index").iterdir():
        part = f.name.split(".", 1)[-1] if f.name.startswith("shard-") else f.name.split("-")[0]
        disk[part] = disk.get(part, 0) + f.stat().st_size
    res["disk_bytes"] = disk
    per_m = 1e6 / n
    res["disk_bytes_per_million"] = {p: int(b * per_m) for p, b in disk.items()}

    # search in fresh processes, so their memory is the loaded index's alone: first as
    # `narratives search` loads it (stored vectors memory-mapped), then all read into memory
    np.save(work / "queries.npy", queries)
    np.save(work / "truth.npy", truth_ids)
    for mode in ("mmap", "memory"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.scale_index", "--measure",
                              str(work), mode], check=True, capture_output=True, text=True)  # fmt: skip
        res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(mode, json.dumps(res[mode]), flush=True)
    res["search"] = res["mmap"].pop("search")
    res["search"]["p50_ms_in_memory"] = res["memory"]["search"]["p50_ms"]
    res["sweep"] = res["mmap"].pop("sweep")
    res["rss_in_memory_bytes_per_million"] = int(res["memory"]["rss_loaded"]["RssAnon"] * per_m)
    shutil.rmtree(work)
    res["finished"] = time.strftime("%F %T")
    print_table(res)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0 if res["search"]["recall@10"] >= 0.95 and res["search"]["p50_ms"] < 20 else 1


def print_table(res: dict) -> None:
    s, p, mb = res["search"], res["params"], 1 / 2**20
    dpm = res["disk_bytes_per_million"]
    rows = [
        ("vectors", f"{res['n']:,} x {res['dim']} in {p['shards']} shards of <= {p['shard_size']:,}"),
        ("index", f"IVF{p['nlist']},PQ{p['m']}x{p['nbits']} + {p['rerank_dtype']} re-rank, "
                  f"trained at {p['train_threshold']:,}"),
        ("search p50 / p95 (single query, mmap)", f"{s['p50_ms']} / {s['p95_ms']} ms (nprobe "
         f"{s['nprobe']}, top {10 * s['k_factor']} re-ranked)"),
        ("search p50, all in memory", f"{s['p50_ms_in_memory']} ms"),
        ("recall@10 / recall@1 vs exact", f"{s['recall@10']} / {s['recall@1']}"),
        ("exact search (batch, per query)", f"{res['exact_batch_ms_per_query']} ms"),
        ("build (train + fill)", f"{res['build_s']} s (training and filing the first "
         f"{p['train_threshold']:,}: {res['train_and_file_s']} s)"),
        ("disk per million vectors", ", ".join(f"{k} {v * mb:.0f} MiB" for k, v in dpm.items())),
        ("RSS of the loaded index per million, all in memory",
         f"{res['rss_in_memory_bytes_per_million'] * mb:.0f} MiB"),
        ("RSS of the loaded index, mmap (total)",
         f"anon {res['mmap']['rss_loaded']['RssAnon'] * mb:.0f} MiB; after the queries anon "
         f"{res['mmap']['rss_after_queries']['RssAnon'] * mb:.0f} MiB, mapped pages touched "
         f"{res['mmap']['rss_after_queries']['RssFile'] * mb:.0f} MiB"),
    ]  # fmt: skip
    print("\n| what | measured |\n| --- | --- |")
    for what, value in rows:
        print(f"| {what} | {value} |")
    print("\n| nprobe | k_factor | recall@10 | p50 ms |\n| --- | --- | --- | --- |")
    for r in res["sweep"]:
        print(f"| {r['nprobe']} | {r['k_factor']} | {r['recall@10']} | {r['p50_ms']} |")


if __name__ == "__main__":
    raise SystemExit(main())
