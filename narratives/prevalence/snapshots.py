"""Read-only snapshots of the database for dashboards: never in the writer's way.

DuckDB lets one process write a file or many read it, not both. So readers that stay open for a
long time (the dashboard) never open the pipeline's database: at the end of each run, while the
run still holds the write connection, a snapshot is published in `<home>/snapshots/<stamp>/`:
the database and the FAISS indexes, so search sees the same passages. Then the small pointer
file `current.json` is replaced atomically (`os.replace`) and old snapshots are pruned. Readers
follow the pointer and open the snapshot read-only; a snapshot is never written after it is
published, so any number of readers can hold it while the next run writes.

What a publish costs follows what the run changed, not the corpus (issue 15). Once `keep`
snapshots exist, the oldest one that is not current, which pruning would delete anyway, is
renamed out of the readers' sight and brought up to date in place (`snapshot_sync.refresh`:
new rows appended, the match step's rows of new runs replaced, small tables replaced whole),
unless a reader still has it open; the indexes are hard-linked, as the embed step replaces an
index file by renaming a new one over it and never writes one in place. A full copy is the
fallback: fewer than `keep` snapshots (keep >= 2 to publish incrementally), a snapshot in use
or damaged, another schema after a migration, or a failure part-way. Disk: `keep` database
files (each the size of the database) and at most `keep` versions of each index.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from narratives.prevalence import snapshot_sync

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
    # as `publish` made it: "copy" or "incremental" ("" when read from the pointer); not part
    # of what a snapshot is, so the one `publish` returns equals the one `current` reads
    how: str = field(default="", compare=False)

    @property
    def database(self) -> Path:
        return self.folder / DB_NAME

    @property
    def index_dir(self) -> Path:
        return self.folder / "index"


def publish(
    con, database: Path, index_dir: Path, snapshots_dir: Path, run_id: int | None, keep: int = 3
) -> Snapshot:
    """Publish what the database (open for writing on `con`) and the indexes hold as the new
    current snapshot. The caller holds the write connection, so nothing changes meanwhile."""
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    log.info("publishing snapshot %s (run %s)", stamp, run_id)  # tests/test_faults.py waits for it
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    building = snapshots_dir / f".building-{stamp}"
    started = time.perf_counter()
    try:
        how = _refresh_old(con, snapshots_dir, keep, building)
        if how is None:
            how = "copy"
            con.execute("CHECKPOINT")  # everything in the main file, nothing left in the WAL
            building.mkdir()
            shutil.copyfile(database, building / DB_NAME)
        shutil.rmtree(building / "index", ignore_errors=True)  # a recycled snapshot's indexes
        if index_dir.exists():
            shutil.copytree(index_dir, building / "index", copy_function=_link_or_copy,
                            ignore=shutil.ignore_patterns("*.tmp"))  # fmt: skip
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
    log.info("published snapshot %s (run %s, %s, %.2fs)", folder, run_id, how,
             time.perf_counter() - started)  # fmt: skip
    return Snapshot(folder, now, run_id, how)


def _refresh_old(con, snapshots_dir: Path, keep: int, building: Path) -> str | None:
    """Bring the oldest snapshot pruning would delete up to date as `building`; "incremental",
    or None when there is none to reuse (the caller copies the database in full)."""
    try:
        live = current(snapshots_dir)
    except SnapshotDamaged:  # which one readers hold is unknown: touch none (publish mends it)
        return None
    folders = _folders(snapshots_dir)
    old = [p for p in folders if live is None or p != live.folder]
    if live is None or len(folders) < max(keep, 1) or not old:
        return None
    # renamed first: a reader that follows the pointer can no longer find it; one that opened
    # it before still holds DuckDB's lock on it, which `_in_use` sees
    os.replace(old[0], building)
    if _in_use(building / DB_NAME):
        log.info("snapshot %s is still being read: publishing a full copy", old[0].name)
        shutil.rmtree(building)  # its readers keep their open file (POSIX)
        return None
    try:
        snapshot_sync.refresh(con, building / DB_NAME)
    except (snapshot_sync.Stale, duckdb.Error, OSError) as exc:
        log.info("snapshot %s cannot be refreshed (%s): publishing a full copy", old[0].name, exc)
        shutil.rmtree(building, ignore_errors=True)
        return None
    return "incremental"


def _in_use(path: Path) -> bool:
    """Whether any connection, in this process or another, has the DuckDB file open (or it is
    missing). DuckDB locks a file with POSIX record locks, which never conflict within one
    process; an open-file-description lock conflicts with them even there. Without OFD locks
    (not Linux), say yes: a full copy is always safe."""
    if not hasattr(fcntl, "F_OFD_SETLK"):
        return True
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return True
    try:
        # struct flock: l_type, l_whence, l_start, l_len (0: the whole file), l_pid (0 for OFD)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
        return False  # closing the descriptor releases the lock
    except OSError:
        return True
    finally:
        os.close(fd)


def _link_or_copy(src: str, dst: str) -> str:
    """A hard link where the file system allows it (the file is never written in place, see the
    module docstring), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _folders(snapshots_dir: Path) -> list[Path]:
    """The published snapshot folders, oldest first (their names are UTC stamps)."""
    return sorted(p for p in snapshots_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


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
    folders = _folders(snapshots_dir)
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
