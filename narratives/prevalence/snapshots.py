"""Read-only snapshots of the database for dashboards: never in the writer's way.

DuckDB lets one process write a file or many read it, not both. So readers that stay open for a
long time (the dashboard) never open the pipeline's database: at the end of each run the
aggregate step, while it holds the write connection, checkpoints the database and copies it (with
the FAISS indexes, so search sees the same passages) into `<home>/snapshots/<stamp>/`. Then it
replaces the small pointer file `current.json` atomically (`os.replace`), and prunes old
snapshots. Readers follow the pointer and open the snapshot read-only; a snapshot is never
written after it is published, so any number of readers can hold it while the next run writes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

POINTER = "current.json"
DB_NAME = "narratives.duckdb"


class SnapshotDamaged(RuntimeError):
    """The pointer file `current.json` cannot be read: one line with the file and the fix."""

    def __init__(self, pointer: Path, reason: str):
        self.path, self.reason = pointer, reason
        super().__init__(
            f"{pointer} is damaged ({reason}); run `narratives run` to publish a new snapshot, "
            "or delete the file and `narratives dashboard` publishes one from the database"
        )


@dataclass(frozen=True)
class Snapshot:
    folder: Path
    published_at: dt.datetime  # UTC
    run_id: int | None

    @property
    def database(self) -> Path:
        return self.folder / DB_NAME

    @property
    def index_dir(self) -> Path:
        return self.folder / "index"


def publish(
    con, database: Path, index_dir: Path, snapshots_dir: Path, run_id: int | None, keep: int = 3
) -> Snapshot:
    """Copy the database (open for writing on `con`) and the indexes into a new snapshot and
    make it current. The caller holds the write connection, so nothing changes during the copy."""
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    log.info("publishing snapshot %s (run %s)", stamp, run_id)
    con.execute("CHECKPOINT")  # everything in the main file, nothing left in the WAL
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    building = snapshots_dir / f".building-{stamp}"
    building.mkdir()
    try:
        shutil.copyfile(database, building / DB_NAME)
        if index_dir.exists():
            shutil.copytree(index_dir, building / "index")
        folder = snapshots_dir / stamp
        os.replace(building, folder)  # a snapshot folder appears complete or not at all
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    pointer = {"folder": folder.name, "published_at": now.isoformat(), "run_id": run_id}
    tmp = snapshots_dir / f".{POINTER}.tmp"
    tmp.write_text(json.dumps(pointer), encoding="utf-8")
    os.replace(tmp, snapshots_dir / POINTER)
    prune(snapshots_dir, keep)
    log.info("published snapshot %s (run %s)", folder, run_id)
    return Snapshot(folder, now, run_id)


def current(snapshots_dir: Path) -> Snapshot | None:
    """The snapshot readers should open now, or None when none was published yet (or the one
    named is gone). A pointer that cannot be read raises SnapshotDamaged."""
    pointer = snapshots_dir / POINTER
    try:
        raw = pointer.read_bytes()
    except FileNotFoundError:
        return None
    folder, published_at, run_id = _read_pointer(pointer, raw)
    if not (snapshots_dir / folder / DB_NAME).exists():
        return None
    return Snapshot(snapshots_dir / folder, published_at, run_id)


def _read_pointer(pointer: Path, raw: bytes) -> tuple[str, dt.datetime, int | None]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SnapshotDamaged(pointer, "not JSON") from None
    if not isinstance(data, dict):
        raise SnapshotDamaged(pointer, "not a JSON object")
    folder = data.get("folder")
    # a plain folder name inside the snapshots folder, as `publish` writes it: nothing else
    if not isinstance(folder, str) or not folder or folder != Path(folder).name or folder in (
        ".", "..") or folder.startswith(".") or "\\" in folder:  # fmt: skip
        raise SnapshotDamaged(pointer, f"its folder {folder!r} is not a snapshot folder name")
    try:
        published_at = dt.datetime.fromisoformat(data.get("published_at"))
    except (TypeError, ValueError):
        raise SnapshotDamaged(
            pointer, f"its published_at {data.get('published_at')!r} is not a date"
        ) from None
    run_id = data.get("run_id")
    if run_id is not None and (not isinstance(run_id, int) or isinstance(run_id, bool)):
        raise SnapshotDamaged(pointer, f"its run_id {run_id!r} is not a run id")
    return folder, published_at, run_id


def prune(snapshots_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` snapshots (never the current one). A reader still
    holding a removed snapshot keeps reading it: on POSIX the file lives until it is closed."""
    live = current(snapshots_dir)
    folders = sorted(
        p for p in snapshots_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    old = [
        p
        for p in folders[: max(len(folders) - max(keep, 1), 0)]
        if live is None or p != live.folder
    ]
    for p in old:
        shutil.rmtree(p, ignore_errors=True)
    # leftovers of a publish that was killed half-way
    for p in snapshots_dir.glob(".building-*"):
        if live is None or p.name[len(".building-") :] < live.folder.name:
            shutil.rmtree(p, ignore_errors=True)
    return old
