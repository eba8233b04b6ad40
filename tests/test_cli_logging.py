"""What `narratives run` prints while it works, captured from a real run under Prefect (its own
process, as a user starts it): each step's summary once (the step logs it, and its flow logs it
again for Prefect's UI), and a progress bar while ingest splits the documents."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

NARRATIVES = Path(sys.executable).with_name("narratives")
STAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def test_run_under_prefect_prints_each_line_once_with_ingest_progress(tmp_path, data_dir):
    done = subprocess.run(
        [str(NARRATIVES), "--home", str(tmp_path), "run",
         "--corpus", str(data_dir / "mini-corpus.jsonl"),
         "--narratives", str(data_dir / "mini-set.yaml")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # a progress bar redraws with \r on the line a log record then ends
    lines = [part for line in done.stderr.splitlines() for part in line.split("\r")]
    logged = [STAMP.sub("", line) for line in lines if STAMP.match(line)]
    said = [line.split(": ", 1)[1] for line in logged if ": " in line]
    for summary in ("ingest: 12 new documents", "embed: 12 new vectors", "match: 12 passages"):
        assert sum(s.startswith(summary) for s in said) == 1, (summary, logged)
    # Prefect's own state lines name no run in this format, so they may repeat; nothing else does
    repeats = [s for s, n in Counter(said).items()
               if n > 1 and not s.startswith(("Finished in state", "View at"))]  # fmt: skip
    assert repeats == []
    assert "splitting file:" in done.stderr  # ingest's progress bar (tqdm, on stderr)
