"""The pipeline on a real Dask cluster (distributed.LocalCluster, 2 worker processes): through
Prefect's DaskTaskRunner and without Prefect, it stores what the in-process run stores, and a
worker killed mid-embed costs only its partition (issue 16)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from narratives import pipeline
from narratives.core.parallel import local_cluster
from narratives.core.settings import Settings

DEMO = Path(__file__).resolve().parents[1] / "narratives" / "demo" / "corpus.jsonl"
# differ between any two runs: when and by which run a row was written, how long it took
VOLATILE = {"run_id", "vector"}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, e5):
    """The reference: the demo through the pipeline in this process (`--no-prefect`)."""
    settings = Settings(home=tmp_path_factory.mktemp("in-process"), corpus=DEMO, progress=False)
    assert pipeline.run_pipeline(settings, e5)["status"] == "ok"
    return settings


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as c:
        yield c


def contents(database: Path) -> dict[str, list]:
    """Every table's rows, sorted, without what differs between any two runs (timestamps, run
    ids, timings in `runs`); floats to 9 digits (lingua's confidences vary in the last ones
    between two runs in one process). Vectors are compared apart, by cosine."""
    out = {}
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' AND table_name <> 'runs' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            keep = [
                f"round({c}, 9)" if t == "DOUBLE" else c
                for c, t in cols
                if c not in VOLATILE and not t.startswith("TIMESTAMP") and not c.endswith("_at")
            ]
            out[table] = con.execute(
                f"SELECT {', '.join(keep)} FROM {table} ORDER BY ALL"
            ).fetchall()
    return out


def vectors(database: Path) -> tuple[list[str], np.ndarray]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("SELECT text_hash, vector FROM embeddings ORDER BY text_hash").fetchall()
    return [r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float32)


def assert_same_database(got: Path, want: Path) -> None:
    a, b = contents(got), contents(want)
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], f"{table} differs from the in-process run"
    (ha, va), (hb, vb) = vectors(got), vectors(want)
    assert ha == hb and ha
    cosine = (va * vb).sum(1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
    assert cosine.min() >= 0.999, cosine.min()


def test_the_pipeline_flow_on_a_dask_cluster_survives_a_worker_killed_mid_embed(
    prefect_harness, in_process, cluster, tmp_path
):
    """`narratives run --dask-address` through Prefect's DaskTaskRunner: one of the two workers
    is killed (SIGKILL) while it embeds a partition, after another partition came back; the run
    completes and its database equals the in-process run's (the vectors to cosine >= 0.999, in
    fact identical: the same partitions make the same batches)."""
    from distributed import Client

    from flows.params import PipelineSettings
    from flows.pipeline import pipeline_flow

    settings = in_process.replace(home=tmp_path / "dask", dask_address=cluster.scheduler_address)
    result: dict = {}
    flow = threading.Thread(
        target=lambda: result.update(pipeline_flow(PipelineSettings.of(settings))), daemon=True
    )
    with Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        flow.start()
        killed = _kill_a_busy_worker_after_one_partition(client, pids, flow)
        flow.join(timeout=600)
    assert killed is not None, "no worker was busy with a partition when one had come back"
    assert not flow.is_alive() and result.get("status") == "ok", result
    assert result["components"]["partitions"].startswith("dask tcp://")
    assert result["counts"]["embeddings_new"] == 678  # the demo's distinct passage texts
    assert_same_database(settings.database, in_process.database)


def _kill_a_busy_worker_after_one_partition(client, pids: dict, flow: threading.Thread):
    """Wait until a partition has come back from one worker while the other still works on
    one; SIGKILL the busy one (its nanny starts a new one; the scheduler gives its partition
    to a live worker). Returns the killed pid, or None if the embedding ended first."""
    started: set = set()
    deadline = time.monotonic() + 300
    while flow.is_alive() and time.monotonic() < deadline:
        busy = {w: set(keys) for w, keys in client.processing().items() if keys}
        running = set().union(*busy.values()) if busy else set()
        if started - running and busy:  # one partition finished, another is in progress
            worker = next(iter(busy))
            os.kill(pids[worker], signal.SIGKILL)
            return pids[worker]
        started |= running
        time.sleep(0.05)
    return None


def test_no_prefect_run_on_a_dask_cluster_stores_what_the_in_process_run_stores(
    cluster, tmp_path, e5, data_dir
):
    """`narratives run --no-prefect --dask-address`: the same partitions, as plain Dask tasks,
    on the mini corpus (12 documents); the run row says where they ran."""
    mini = data_dir / "mini-corpus.jsonl"
    here = Settings(home=tmp_path / "here", corpus=mini, progress=False)
    there = here.replace(home=tmp_path / "there", dask_address=cluster.scheduler_address)
    assert pipeline.run_pipeline(here, e5)["status"] == "ok"
    run = pipeline.run_pipeline(there, e5)
    assert run["status"] == "ok" and run["components"]["partitions"].startswith("dask tcp://")
    assert run["counts"]["embeddings_new"] > 0 and run["counts"]["passages_matched"] > 0
    assert_same_database(there.database, here.database)
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        loads = client.run(_models_loaded)
    # the model is loaded once per worker process, not once per partition
    assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1, loads


def _models_loaded() -> int:
    from narratives.vectors.step import load_embedder

    return load_embedder.cache_info().misses


def test_a_scheduler_that_does_not_answer_is_one_line_before_the_run_begins(
    tmp_path, capsys, data_dir
):
    import socket

    from narratives.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    argv = ["--home", str(home), "-q", "run", "--no-prefect",
            "--corpus", str(data_dir / "mini-corpus.jsonl"), "--dask-address", f"tcp://127.0.0.1:{port}"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "cannot reach the Dask scheduler" in err[0] and "docs/scale.md" in err[0]
    )
    assert not (home / "narratives.duckdb").exists()  # refused before any run began
    assert main(["--home", str(home), "-q", "run", "--workers", "-1"]) == 2
    assert "workers" in capsys.readouterr().err
