"""Scale-out on this machine (issue 16): the pipeline in-process, on a LocalCluster of 1 worker
and of 2 workers, over the same distinct documents; the cost of a task on the scheduler, with
and without Prefect; each worker's peak memory.

    .venv/bin/python -m benchmarks.scale [--documents 5000] [--rounds 1] [--out FILE.json]

Documents: 3-7 NTREX-128 sentences of one language (EN/RU/UK in turn) drawn at random, read
from shared/eval at run time (benchmarks/workloads.py); every document's text is distinct
(checked). Passages that recur across documents are embedded once (the cache), as in a real
run: the table gives documents, passages and distinct passage texts, and throughput counts the
texts embedded. Each configuration runs the whole pipeline (`run_pipeline`, no Prefect) on a
fresh home; configurations alternate within a round, so a change in the machine's load falls
on all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.speed import cpu_line
from benchmarks.workloads import synthetic_documents, write_jsonl

CONFIGS = {"in-process": 0, "1 worker": 1, "2 workers": 2}


def distinct_documents(n: int, seed: int = 16) -> list[dict]:
    docs, seen, i = [], set(), 0
    while len(docs) < n:
        for d in synthetic_documents(n - len(docs), seed + i, start_id=len(docs) + i * n):
            if d["text"] not in seen:
                seen.add(d["text"])
                docs.append(d)
        i += 1
    assert len({d["text"] for d in docs}) == n
    return docs


def run_config(corpus: Path, workers: int, work: Path) -> dict:
    """One pipeline run on a fresh home; for a Dask run, the cluster is started first (its
    start is reported apart) and each worker's peak memory read at the end."""
    from distributed import Client

    from narratives import pipeline
    from narratives.core.parallel import local_cluster
    from narratives.core.settings import Settings

    settings = Settings(home=work, corpus=corpus, progress=False)
    if workers == 0:
        started = time.perf_counter()
        run = pipeline.run_pipeline(settings)
        return summary(run, time.perf_counter() - started, 0.0, [])
    t0 = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster.scheduler_address) as client:
        cluster_s = time.perf_counter() - t0
        # each worker loads its model once, before the clock starts, as the in-process run's
        # load is timed apart (model_load_s); reported in its own column
        loads = client.run(_load_model, settings.model)
        started = time.perf_counter()
        run = pipeline.run_pipeline(settings.replace(dask_address=cluster.scheduler_address))
        wall = time.perf_counter() - started
        peaks = client.run(_peak_rss_mib)
    out = summary(run, wall, cluster_s, sorted(peaks.values()))
    return out | {"worker_model_load_s": max(loads.values())}


def _load_model(spec: str) -> float:
    from narratives.vectors.step import worker_embedder

    t0 = time.perf_counter()
    worker_embedder(spec).load()  # the one embed_partition uses on this worker
    return time.perf_counter() - t0


def _peak_rss_mib() -> float:
    """This process's own peak resident memory (VmHWM: ru_maxrss would carry the parent's
    peak into a worker process started by fork and exec)."""
    try:
        for line in open("/proc/self/status", encoding="utf-8"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(run: dict, wall: float, cluster_s: float, peaks: list[float]) -> dict:
    t, c = run["timings"], run["counts"]
    return {
        "wall_s": wall, "cluster_start_s": cluster_s, "ingest_s": t["ingest_s"],
        "embed_s": t["embed_s"], "match_s": t["match_s"],
        "writer_s": t.get("embed_store_s", 0.0) + t.get("match_store_s", 0.0),
        "texts_embedded": c["embeddings_new"], "passages": c["passages_new"],
        "documents": c["documents_new"], "worker_peak_rss_mib": peaks,
        "parent_peak_rss_mib": _peak_rss_mib(),
        "worker_model_load_s": t.get("model_load_s", 0.0),
    }  # fmt: skip


def task_overhead(tasks: int = 200) -> dict:
    """Seconds per task of a no-op partition: plain Dask, and Prefect's DaskTaskRunner (a
    task run recorded by a temporary Prefect server)."""
    from distributed import Client

    from narratives.core.parallel import DaskPartitions, local_cluster

    out = {}
    with local_cluster(2) as cluster, Client(cluster.scheduler_address) as client:
        parts = DaskPartitions(client, "bench")
        list(parts.map(_noop, range(20), extra=1))  # warm: imports on the workers
        t0 = time.perf_counter()
        assert list(parts.map(_noop, range(tasks), extra=1)) == list(range(1, tasks + 1))
        out["dask_s_per_task"] = (time.perf_counter() - t0) / tasks
        out["prefect_s_per_task"] = _prefect_overhead(cluster.scheduler_address, tasks // 4)
    return out


def _noop(item: int, extra: int) -> int:
    return item + extra


def _prefect_overhead(address: str, tasks: int) -> float:
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from flows.partitions import dask_partitions

    @flow(name="bench-partitions")
    def bench() -> float:
        with dask_partitions(address) as parts:
            list(parts.map(_noop, range(5), extra=1))
            t0 = time.perf_counter()
            assert list(parts.map(_noop, range(tasks), extra=1)) == list(range(1, tasks + 1))
            return (time.perf_counter() - t0) / tasks

    with prefect_test_harness(server_startup_timeout=180):
        return bench()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--documents", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--skip-overhead", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        work = Path(tmp)
        corpus = write_jsonl(work / "corpus.jsonl", distinct_documents(args.documents))
        results: dict[str, list[dict]] = {name: [] for name in CONFIGS}
        for r in range(args.rounds):
            names = list(CONFIGS) if r % 2 == 0 else list(reversed(CONFIGS))
            for name in names:
                res = run_config(corpus, CONFIGS[name], work / f"r{r}-{name.replace(' ', '-')}")
                results[name].append(res)
                print(f"round {r + 1} {name}: {json.dumps(res)}", flush=True)
    overhead = {} if args.skip_overhead else task_overhead()
    table = report(results, overhead, args.documents)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": results, "overhead": overhead, "table": table},
                                       indent=1))  # fmt: skip
    return 0


def report(results: dict, overhead: dict, documents: int) -> list[dict]:
    base = statistics.median(r["embed_s"] + r["match_s"] for r in results["in-process"])
    first = results["in-process"][0]
    print(f"\n{documents} distinct documents, {first['passages']} passages, "
          f"{first['texts_embedded']} distinct passage texts embedded; "
          f"CPU: {cpu_line()}\n")  # fmt: skip
    print("| configuration | embed s | texts/s | match s | embed+match s | vs in-process | "
          "wall s | cluster start s | model load s | peak RSS per worker MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    table = []
    for name, runs in results.items():
        embed = statistics.median(r["embed_s"] for r in runs)
        match = statistics.median(r["match_s"] for r in runs)
        row = {
            "configuration": name, "embed_s": embed, "match_s": match,
            "texts_per_s": runs[0]["texts_embedded"] / embed,
            "speedup": base / (embed + match),
            "wall_s": statistics.median(r["wall_s"] for r in runs),
            "cluster_start_s": statistics.median(r["cluster_start_s"] for r in runs),
            "peak_rss_mib": max((max(r["worker_peak_rss_mib"] or [0]) for r in runs), default=0),
            "model_load_s": statistics.median(r["worker_model_load_s"] for r in runs),
        }  # fmt: skip
        table.append(row)
        print(f"| {name} | {embed:.1f} | {row['texts_per_s']:.1f} | {match:.1f} | "
              f"{embed + match:.1f} | {row['speedup']:.2f}x | {row['wall_s']:.1f} | "
              f"{row['cluster_start_s']:.1f} | {row['model_load_s']:.1f} | "
              f"{row['peak_rss_mib']:.0f} |")  # fmt: skip
    writer = statistics.median(r["writer_s"] for runs in results.values() for r in runs)
    per_million = writer / max(first["passages"], 1) * 1e6
    print(f"\nthe writer's own share (storing vectors, matches and scope): {writer:.2f} s for "
          f"{first['passages']} passages = {per_million:.0f} s per million passages "
          f"({1e6 / per_million:.0f} passages/s at most through one writer)")  # fmt: skip
    if overhead:
        print(f"\nscheduler overhead per task (no-op, 2 workers): Dask "
              f"{overhead['dask_s_per_task'] * 1000:.1f} ms, Prefect's DaskTaskRunner "
              f"{overhead['prefect_s_per_task'] * 1000:.1f} ms")  # fmt: skip
    return table


if __name__ == "__main__":
    raise SystemExit(main())
