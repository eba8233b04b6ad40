"""A lock file beside each database, taken before DuckDB opens the database and let go after.

Why DuckDB's own lock is not enough: DuckDB (2.0.1) reads the database's headers *before* it
locks the file and does not read them again once it has the lock. A process waiting for the
writer can read the headers just before that writer's last checkpoint and get the lock just
after the writer closes: it then works on the database as it was before, and its own checkpoint
overwrites what the other process had committed. CI saw this once (a run's row lost when a
second process took over the file); `tests/test_store_handoff.py` makes it happen every time by
slowing DuckDB's lock call. With this lock taken first, DuckDB reads the headers only when no
other process of this program can be writing them.

Writers take the lock exclusively, readers shared. flock locks belong to the open file, so
closing some other descriptor of the database cannot drop them (unlike DuckDB's fcntl lock).
Inside one process, nested opens of one database share one hold, as DuckDB shares one instance.
The file `<database>.lock` is never deleted (deleting a lock file races with its next user); a
writer writes its pid there while it holds the lock, for the "held by" hint. Without flock (Windows), or where the lock
file cannot be made (a read-only folder of snapshots), DuckDB's own lock is all there is.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)

_guard = threading.Lock()
_held: dict[str, list[int]] = {}  # lock file -> [descriptor, holds, exclusive] in this process
_taking: dict[str, threading.Lock] = {}  # lock file -> taken while one thread acquires it


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def holder(db: Path) -> str | None:
    """The pid of the writer holding the lock file, if it wrote one and still lives (a hint for
    busy errors; a writer killed outright leaves its pid behind)."""
    try:
        text = lock_path(db).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass  # it exists, owned by someone else
    return text


def _descriptor(path: Path) -> int | None:
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:
            continue
    log.debug("no lock file at %s (read-only folder?): relying on DuckDB's own lock", path)
    return None


@contextmanager
def held(db: Path, exclusive: bool, wait_s: float, busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold `<db>.lock` (exclusive for a writer, shared for a reader) for the block.

    Waits up to `wait_s` seconds for other processes; then raises `busy()`.
    """
    if fcntl is None:
        yield
        return
    key = str(lock_path(db).absolute())
    with _guard:
        taking = _taking.setdefault(key, threading.Lock())
    if not taking.acquire(timeout=max(wait_s, 0.0)):  # another thread here is still waiting
        raise busy()
    try:
        with _guard:
            entry = _held.get(key)
            if entry is not None:
                entry[1] += 1
        if entry is None:
            entry = _acquire(Path(key), exclusive, wait_s, busy)
    finally:
        taking.release()
    try:
        yield
    finally:
        _release(key, entry)


def _acquire(path: Path, exclusive: bool, wait_s: float, busy) -> list[int] | None:
    fd = _descriptor(path)
    if fd is None:
        return None
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline, delay = time.monotonic() + wait_s, 0.02
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise busy() from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except OSError:  # a filesystem without flock: DuckDB's lock alone
            os.close(fd)
            return None
    if exclusive:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # opened read-only: the hint is missing, the lock still holds
    entry = [fd, 1, int(exclusive)]
    with _guard:
        _held[str(path)] = entry
    return entry


def _release(key: str, entry: list[int] | None) -> None:
    if entry is None:
        return
    with _guard:
        entry[1] -= 1
        if entry[1]:
            return
        _held.pop(key, None)
    fd, _, exclusive = entry
    if exclusive:  # the pid goes with the hold: a busy message never names a finished writer
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
    os.close(fd)  # closing the descriptor lets go of its flock
