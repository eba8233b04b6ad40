"""Issue 15: publishing the dashboards' snapshot, the old full copy against the new incremental
publish, after runs that each add 5% new documents to a 10,000-document database.

    .venv/bin/python -m benchmarks.snapshot [--work /tmp/narratives-snapshot-bench]
        [--documents 10000] [--rounds 5] [--keep 3]

What is real and what is synthesised:
- The demo run is real: `narratives run` on the demo corpus (232 documents), then a second run
  adding 500 new synthetic documents (NTREX sentences, benchmarks/workloads.py) to a copy of
  it. The second run's row and wall time give the run-time estimate (fixed start-up plus
  per-passage costs; `estimate_run`).
- The 10,000-document database is synthesised from the demo database, not embedded: its corpus
  rows (documents, passages, vectors, MinHash bands, matches, scope rows, reprints) copied with
  shifted ids, texts made distinct (so no compression sees repeats) and vectors nudged, so each
  document stores what a demo document stores. The FAISS index holds random vectors of the
  real shape, one per passage. A "run" adds 5% new documents the same way, a run row, the
  prevalence tables replaced and the index file replaced, as the real steps do.

Old and new publish alternate which goes first round by round, each into its own snapshots
folder, each after the same run, through the writer connection a run publishes with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.workloads import synthetic_documents, write_jsonl
from narratives.core.store import writer
from narratives.prevalence import snapshots

ROOT = Path(__file__).resolve().parents[1]
STRIDE = 1_000_000  # id offset between copies of the demo corpus (its ids are far below)


def old_publish(con, database: Path, index_dir: Path, snapshots_dir: Path, run_id, keep=3):
    """The publish this replaces (narratives/prevalence/snapshots.py before issue 15), kept here
    so that the comparison can be rerun: the whole database and indexes copied every time."""
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    con.execute("CHECKPOINT")
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    building = snapshots_dir / f".building-{stamp}"
    building.mkdir()
    shutil.copyfile(database, building / snapshots.DB_NAME)
    if index_dir.exists():
        shutil.copytree(index_dir, building / "index")
    folder = snapshots_dir / stamp
    os.replace(building, folder)
    pointer = {"folder": folder.name, "published_at": now.isoformat(), "run_id": run_id}
    tmp = snapshots_dir / f".{snapshots.POINTER}.tmp"
    tmp.write_text(json.dumps(pointer), encoding="utf-8")
    os.replace(tmp, snapshots_dir / snapshots.POINTER)
    snapshots.prune(snapshots_dir, keep)


# --- the demo runs ---------------------------------------------------------------------------
def run_cli(home: Path, *extra) -> float:
    cmd = [sys.executable, "-m", "narratives", "run", "--no-prefect", "-q", "--home", str(home),
           *extra]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def demo(work: Path) -> tuple[Path, list[dict]]:
    """The real demo database (the template) and the run rows, with wall seconds, of the demo
    run and of a second run adding 500 new documents to a copy of it; made once per --work."""
    home, plus = work / "demo", work / "demo-plus"
    done = plus / "walls.json"
    if not done.exists():
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(plus, ignore_errors=True)
        first = run_cli(home)
        shutil.copytree(home, plus)
        corpus = write_jsonl(work / "new-500.jsonl", synthetic_documents(500, seed=15))
        second = run_cli(plus, "--corpus", str(corpus))
        done.write_text(json.dumps([first, second]))
    walls = json.loads(done.read_text())
    import duckdb

    con = duckdb.connect(str(plus / "narratives.duckdb"), read_only=True)
    rows = con.execute("SELECT id, timings, counts FROM runs ORDER BY id").fetchall()
    con.close()
    return home, [{"id": i, "timings": json.loads(t), "counts": json.loads(c), "wall_s": w}
                  for (i, t, c), w in zip(rows, walls, strict=True)]  # fmt: skip


# --- the synthetic database ------------------------------------------------------------------
def add_copy(con, k: int, docs: int | None = None, run_id: int | None = None) -> None:
    """Copy k of the demo corpus (its first `docs` documents) into the database, ids shifted by
    k * STRIDE, texts and text hashes made distinct, vectors nudged; with `run_id`, as that run
    writes them (its id on the rows, the time of writing on the vectors)."""
    d, o = "demo", k * STRIDE
    run = f", {run_id} AS run_id" if run_id is not None else ""
    limit = f"WHERE id <= {docs}" if docs else ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _docs AS SELECT id FROM {d}.documents {limit}")
    con.execute(f"""INSERT INTO documents SELECT * REPLACE (id + {o} AS id,
        external_id || '#{k}' AS external_id, url || '#{k}' AS url,
        '[{k}] ' || text AS text, content_hash || '#{k}' AS content_hash{run})
        FROM {d}.documents WHERE id IN (FROM _docs)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _passages AS SELECT * FROM {d}.passages
        WHERE document_id IN (FROM _docs)""")
    con.execute(f"""INSERT INTO passages SELECT * REPLACE (id + {o} AS id,
        document_id + {o} AS document_id, '[{k}] ' || text AS text,
        text_hash || '#{k}' AS text_hash) FROM _passages""")
    con.execute(f"""INSERT INTO embeddings SELECT * REPLACE (text_hash || '#{k}' AS text_hash,
        list_transform(vector, lambda x: x + {k % 1000} * 1e-6) AS vector,
        current_timestamp AS created_at) FROM {d}.embeddings
        WHERE text_hash IN (SELECT text_hash FROM _passages) ON CONFLICT DO NOTHING""")
    con.execute(f"""INSERT INTO minhash_bands SELECT * REPLACE (document_id + {o} AS document_id)
        FROM {d}.minhash_bands WHERE document_id IN (FROM _docs)""")
    for table in ("matches", "passage_scope"):
        con.execute(f"""INSERT INTO {table} SELECT * REPLACE (passage_id + {o} AS passage_id{run})
            FROM {d}.{table} WHERE passage_id IN (SELECT id FROM _passages)""")
    con.execute(f"""INSERT INTO reprints SELECT * REPLACE (original_id + {o} AS original_id,
        reprint_id + {o} AS reprint_id) FROM {d}.reprints WHERE reprint_id IN (FROM _docs)""")


def build(work: Path, demo_home: Path, documents: int) -> Path:
    """A database of `documents` documents made of copies of the demo's, once per --work."""
    base = work / f"base-{documents}"
    if (base / "ok").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    db = base / "narratives.duckdb"
    with writer(db) as con:
        con.execute(f"ATTACH '{demo_home / 'narratives.duckdb'}' AS demo (READ_ONLY)")
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'demo'").fetchall()]  # fmt: skip
        mine = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                          "WHERE database_name = current_database()").fetchall()}  # fmt: skip
        for t in tables:  # the tables made by a step rather than a migration are created here
            if t in mine and t != "_migrations":
                con.execute(f'INSERT INTO "{t}" SELECT * FROM demo."{t}"')
            elif t not in mine:
                con.execute(f'CREATE TABLE "{t}" AS SELECT * FROM demo."{t}"')
        per = con.execute("SELECT count(*) FROM demo.documents").fetchall()[0][0]
        for k in range(1, math.ceil(documents / per)):
            add_copy(con, k, min(per, documents - k * per))
        con.execute("DETACH demo")
    write_index(db, base / "index")
    (base / "ok").write_text("")
    return base


def write_index(db: Path, index_dir: Path) -> None:
    """A flat FAISS index file of the real shape (one 384-d float vector per passage), written
    to a temporary name and renamed, as the embed step does."""
    import duckdb
    import faiss

    con = duckdb.connect(str(db), read_only=True)
    n = con.execute("SELECT count(*) FROM passages").fetchall()[0][0]
    con.close()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(384))
    vectors = np.random.default_rng(n).standard_normal((n, 384), dtype=np.float32)
    index.add_with_ids(vectors, np.arange(n, dtype=np.int64))
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / "bench-model.faiss"
    faiss.write_index(index, str(path) + ".tmp")
    os.replace(str(path) + ".tmp", path)
    (index_dir / "bench-model.faiss.json").write_text(json.dumps({"count": n}))


def simulate_run(live: Path, demo_home: Path, k: int, new_docs: int, per: int) -> None:
    """The writes of a run adding `new_docs` documents: corpus rows, a run row, the replaced
    prevalence tables, the index file; each step in its own writer, as the pipeline does."""
    with writer(live / "narratives.duckdb") as con:
        con.execute(f"ATTACH '{demo_home / 'narratives.duckdb'}' AS demo (READ_ONLY)")
        run_id = con.execute("INSERT INTO runs SELECT * REPLACE (nextval('seq_runs') + 1000 AS "
                             "id, 'running' AS status) FROM demo.runs LIMIT 1 RETURNING id"
                             ).fetchall()[0][0]  # fmt: skip
        left, j = new_docs, 0
        while left > 0:
            add_copy(con, 100_000 + k * 100 + j, min(per, left), run_id)  # past the base copies
            left, j = left - per, j + 1
        con.execute("DETACH demo")
    with writer(live / "narratives.duckdb") as con:
        for t in ("prevalence_rollup", "prevalence_corrected"):
            con.execute(f"CREATE OR REPLACE TABLE {t} AS SELECT * FROM {t}")
        con.execute("UPDATE runs SET status = 'ok' WHERE status = 'running'")
    write_index(live / "narratives.duckdb", live / "index")


# --- measuring -------------------------------------------------------------------------------
def written() -> int:
    """Bytes this process has sent toward storage so far (Linux; pages dirtied count at once,
    so a copy that the kernel finishes in the page cache counts in full)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def disk(folder: Path, shared_with: Path | None = None) -> tuple[int, int]:
    """(bytes on disk under `folder`, of which in files hard-linked with `shared_with`): each
    file counted once, however many links it has."""
    shared = (
        {p.stat().st_ino for p in shared_with.rglob("*") if p.is_file()} if shared_with else set()
    )
    seen, total, common = set(), 0, 0
    for p in folder.rglob("*"):
        st = p.stat()
        if p.is_file() and st.st_ino not in seen:
            seen.add(st.st_ino)
            total += st.st_blocks * 512
            common += st.st_blocks * 512 if st.st_ino in shared else 0
    return total, common


def estimate_run(rows: list[dict], new_docs: int, passages_per_doc: float) -> dict:
    """A run adding `new_docs` demo-like documents, from the measured second demo run: its wall
    time less its per-passage work, plus that work scaled to the passages of `new_docs`."""
    second = rows[1]
    t, c = second["timings"], second["counts"]
    per_passage_s = (t.get("ingest_s", 0) + t.get("embed_s", 0) + t.get("match_s", 0)) / max(
        c["passages_new"], 1
    )
    fixed_s = second["wall_s"] - per_passage_s * c["passages_new"]
    passages = new_docs * passages_per_doc
    return {"measured_wall_s": round(second["wall_s"], 2), "measured_documents": c["documents_new"],
            "measured_passages": c["passages_new"], "ingest_embed_match_s": round(
                per_passage_s * c["passages_new"], 2), "per_passage_s": round(per_passage_s, 5),
            "fixed_s": round(fixed_s, 2), "passages": round(passages),
            "estimate_s": round(fixed_s + per_passage_s * passages, 2),
            "arithmetic": f"{fixed_s:.2f} s fixed + {per_passage_s * 1000:.2f} ms x "
                          f"{passages:.0f} passages"}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/narratives-snapshot-bench"))
    ap.add_argument("--documents", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", type=int, default=3)
    ap.add_argument("--new-share", type=float, default=0.05, help="new documents per run")
    args = ap.parse_args(argv)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    demo_home, rows = demo(work)
    base = build(work, demo_home, args.documents)
    live = work / "live"  # the benchmark's runs write here; a fresh copy of the base each time
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(base, live)
    db = live / "narratives.duckdb"
    old_dir, new_dir = live / "snapshots-old", live / "snapshots-new"

    def publish_old(con):
        old_publish(con, db, live / "index", old_dir, None, args.keep)

    def publish_new(con):
        return snapshots.publish(con, db, live / "index", new_dir, None, args.keep)

    with writer(db) as con:  # steady state: `keep` snapshots of each kind exist before round 1
        for _ in range(args.keep):
            publish_old(con)
            publish_new(con)
        per = con.execute("SELECT count(*) FROM documents WHERE id < 1000000").fetchall()[0][0]
        passages_per_doc = con.execute(
            "SELECT count(*) / count(DISTINCT document_id) FROM passages").fetchall()[0][0]  # fmt: skip
    new_docs = round(args.documents * args.new_share)
    t_old, t_new, hows, sizes, w_old, w_new = [], [], [], [], [], []
    for r in range(1, args.rounds + 1):
        simulate_run(live, demo_home, r, new_docs, per)
        with writer(db) as con:
            pair = [(publish_old, t_old, w_old), (publish_new, t_new, w_new)]
            for fn, times, writes in pair if r % 2 else pair[::-1]:
                started, wrote = time.perf_counter(), written()
                snap = fn(con)
                times.append(time.perf_counter() - started)
                writes.append(written() - wrote)
                if snap is not None:
                    hows.append(snap.how)
            documents = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
        sizes.append({"round": r, "documents": documents, "database_mb": db.stat().st_size / 1e6,
                      "old_s": round(t_old[-1], 3), "new_s": round(t_new[-1], 3),
                      "old_written_mb": round(w_old[-1] / 1e6, 1),
                      "new_written_mb": round(w_new[-1] / 1e6, 1)})  # fmt: skip
        print(json.dumps(sizes[-1] | {"how": hows[-1]}), flush=True)
    old_disk, _ = disk(old_dir)
    new_disk, new_shared = disk(new_dir, live / "index")
    run = estimate_run(rows, new_docs, passages_per_doc)
    new_s = statistics.median(t_new)
    result = {
        "documents": args.documents, "rounds": args.rounds, "keep": args.keep,
        "new_documents_per_round": new_docs, "passages_per_document": round(passages_per_doc, 2),
        "database_mb": round(db.stat().st_size / 1e6, 1),
        "index_mb": round(sum(p.stat().st_size for p in (live / "index").iterdir()) / 1e6, 1),
        "old_publish_s": round(statistics.median(t_old), 3), "new_publish_s": round(new_s, 3),
        "ratio_old_over_new": round(statistics.median(
            [a / b for a, b in zip(t_old, t_new, strict=True)]), 1),
        "new_publish_how": hows,
        "old_written_mb": round(statistics.median(w_old) / 1e6, 1),
        "new_written_mb": round(statistics.median(w_new) / 1e6, 1),
        "snapshot_db_files_mb_new": [round((p / snapshots.DB_NAME).stat().st_size / 1e6, 1)
                                     for p in sorted(new_dir.iterdir()) if p.is_dir()],
        "snapshots_disk_mb_old": round(old_disk / 1e6, 1),
        "snapshots_disk_mb_new": round(new_disk / 1e6, 1),
        "of_which_index_shared_with_live_mb": round(new_shared / 1e6, 1),
        "run_estimate": run,
        "new_publish_share_of_run": round(new_s / run["estimate_s"], 4),
        "old_publish_share_of_run": round(statistics.median(t_old) / run["estimate_s"], 4),
        "rounds_detail": sizes,
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    name = f"result-{args.documents}-keep{args.keep}-new{args.new_share:g}.json"
    (work / name).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
