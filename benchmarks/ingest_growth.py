"""How ingesting a batch of new documents grows with what is already stored (issue 15).

Batches of 10,000 new synthetic documents (NTREX sentences drawn at random, distinct texts;
`benchmarks/workloads.py`) are stored one after another into one DuckDB file with the pipeline's
own `store_documents` (dedup against everything stored, then insert), so batch k lands on a store
of k x 10,000 documents. A cost linear in the stored count would make the batch at 100,000 stored
about ten times the batch at 10,000; the table prints the ratio.

    .venv/bin/python -m benchmarks.ingest_growth [--batch 10000] [--batches 11]

Writes reports/ingest_growth.json. About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.workloads import synthetic_documents

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=11, help="the last lands on (batches-1) x batch")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "ingest_growth.json")
    args = ap.parse_args(argv)

    from narratives.core.store import writer
    from narratives.ingest.model import RawDocument
    from narratives.ingest.store import store_documents

    def raw(rows):
        return [RawDocument(r["id"], r["text"], r["outlet"], lang=r["lang"],
                            published_at=dt.datetime.fromisoformat(r["published_at"]))
                for r in rows]  # fmt: skip

    print(f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, writer(Path(tmp) / "g.duckdb") as con:
        for k in range(args.batches):
            docs = raw(synthetic_documents(args.batch, seed=100 + k, start_id=k * args.batch))
            stored = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
            started = time.perf_counter()
            result = store_documents(con, "synthetic", docs)
            seconds = time.perf_counter() - started
            rows.append({"stored_before": stored, "new": len(docs), "seconds": round(seconds, 2),
                         "ms_per_document": round(1000 * seconds / len(docs), 3),
                         "result": str(result)[:200]})  # fmt: skip
            print(f"  {len(docs):,} new into {stored:,} stored: {seconds:.1f} s "
                  f"({1000 * seconds / len(docs):.2f} ms a document)", flush=True)  # fmt: skip
    first = next(r for r in rows if r["stored_before"] > 0)
    last = rows[-1]
    growth = last["seconds"] / first["seconds"]
    stored_ratio = last["stored_before"] / first["stored_before"]
    print(f"\nstored {first['stored_before']:,} -> {last['stored_before']:,} "
          f"({stored_ratio:.0f}x): a batch takes {growth:.2f}x as long "
          f"({'less' if growth < stored_ratio else 'not less'} than linear); "
          f"load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"batches": rows, "growth": growth,
                                    "stored_ratio": stored_ratio}, indent=1))  # fmt: skip
    return 0 if growth < stored_ratio else 1


if __name__ == "__main__":
    raise SystemExit(main())
