"""The label journal: where every new label is written first, as one JSON line, fsynced.

DuckDB lets one process write its file, and a pipeline run holds that writer for minutes. An
analyst labelling meanwhile must neither wait nor lose a label, so the review CLI and the
dashboard append to a file of their own in <home>/labels/ (one file per writing process: no
lock needed), and the labels step (at the start of every run, or `narratives labels sync`)
stores what is new in the `labels` table. Files are append-only and never moved: the step keeps
how far it has read each one (`label_files`), so a file still being written is read on from
there next time, and the folder is the plain-text copy of every label ever given."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from narratives.labels.model import BadLabel, validate


class Journal:
    """One writer's file in the journal (named by time and process, so writers never share)."""

    def __init__(self, labels_dir: Path, who: str):
        folder = Path(labels_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in who)[:40] or "analyst"
        self.path = folder / f"{stamp}-{os.getpid()}-{safe}.jsonl"

    def append(self, label: dict) -> dict:
        """Validate and write one label durably (flushed and fsynced); returns it with its id."""
        row = validate(label)
        line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return row


def files(labels_dir: Path) -> list[Path]:
    folder = Path(labels_dir)
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def read_from(
    path: Path, offset: int = 0, whole: bool = False
) -> tuple[list[dict], list[str], int]:
    """(valid labels, one-line problems, new offset) of the complete lines past `offset`. A last
    line without its newline (being written, or cut short by a crash) is left for next time,
    unless `whole` (a finished file, such as an export); a bad line is reported and skipped,
    never stops the rest."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = len(data) if whole else data.rfind(b"\n") + 1
    rows, problems = [], []
    for n, raw in enumerate(data[:end].splitlines(), 1):
        if not raw.strip():
            continue
        try:
            rows.append(validate(json.loads(raw)))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            problems.append(f"{path.name}: a line is not JSON ({e})")
        except (BadLabel, AttributeError, TypeError) as e:
            problems.append(f"{path.name} line {n} past byte {offset}: {e}")
    return rows, problems, offset + end


def all_labels(labels_dir: Path) -> list[dict]:
    """Every valid label in the journal, stored or not (the queue leaves their items out)."""
    return [row for path in files(labels_dir) for row in read_from(path)[0]]
