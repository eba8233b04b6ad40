"""Where a step's partitions run: in this process, or on a Dask cluster (issue 16).

The heavy steps (embed, match) cut their work into partitions and hand each to a pure function
of the partition (an Arrow table) and some shared inputs; the function never opens the
database and returns arrays. The step, the one writer, stores the results in partition order
as they come back. A `Partitions` runs those functions:

- `InProcess`: one after another here (the default; `narratives run --no-prefect`);
- `DaskPartitions`: on a dask.distributed cluster, a local one (`--workers N`) or an existing
  scheduler (`--dask-address tcp://HOST:PORT`). Shared inputs are scattered once to every
  worker; a worker lost mid-task costs its partition only, which the scheduler runs again on
  another worker; a partition that raises is tried again (`RETRIES`).

The Prefect flows run the same functions as Prefect tasks on prefect-dask's DaskTaskRunner
(flows/partitions.py). Nothing here imports Dask until a cluster is asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

RETRIES = 2  # a partition that raised is tried this many more times (a lost worker: not counted)
# partitions submitted ahead of the one the writer waits for, per worker: enough to keep every
# worker busy while the writer stores, few enough to bound what waits in memory
AHEAD_PER_WORKER = 2


class Partitions(Protocol):
    name: str

    def map(self, fn: Callable, items: Iterable, **shared: Any) -> Iterator:
        """fn(item, **shared) for every item, yielded in the order of `items`."""


class InProcess:
    name = "in-process"

    def map(self, fn: Callable, items: Iterable, **shared: Any) -> Iterator:
        for item in items:
            yield fn(item, **shared)


def ahead_for(client) -> int:
    """Partitions to keep in flight on a cluster: AHEAD_PER_WORKER per worker it has now."""
    return AHEAD_PER_WORKER * (len(client.scheduler_info().get("workers", {})) or 1)


def in_order(
    submit: Callable, items: Iterable, ahead: int, pending: deque | None = None
) -> Iterator:
    """Each item's result, in the order of `items`: `submit(index, item)` returns a future
    (with `.result()`); at most `ahead` + 1 are in flight. `pending`: the caller's deque, to
    cancel what is left if the writer stops early."""
    pending = deque() if pending is None else pending
    for index, item in enumerate(items):
        pending.append(submit(index, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class DaskPartitions:
    """Partitions as Dask tasks of a `distributed.Client`, a few ahead of the writer."""

    def __init__(self, client, name: str):
        self.client, self.name, self.ahead = client, name, ahead_for(client)

    def map(self, fn: Callable, items: Iterable, **shared: Any) -> Iterator:
        # scattered once and broadcast: every worker holds the shared inputs (a fitted head,
        # the model's name) instead of receiving them with each partition
        common = {k: self.client.scatter(v, broadcast=True, hash=False) for k, v in shared.items()}
        pending: deque = deque()

        def submit(_index: int, item):
            return self.client.submit(fn, item, **common, retries=RETRIES, pure=False)

        try:
            yield from in_order(submit, items, self.ahead, pending)
        finally:
            self.client.cancel(list(pending) + list(common.values()))


def local_cluster(workers: int):
    """A LocalCluster of `workers` processes with one thread each: one model per process, and
    the model's own threads are the parallelism inside a process (none here)."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )


@contextmanager
def cluster_address(workers: int, address: str | None) -> Iterator[str | None]:
    """The scheduler address a run uses: the given one, or that of a LocalCluster of
    `workers` processes started for the run (and closed after it); None: run in-process."""
    if address:
        yield address
    elif workers and workers > 1:
        with local_cluster(workers) as cluster:
            yield cluster.scheduler_address
    else:
        yield None


def describe(workers: int, address: str | None) -> str:
    """The run record's name for where partitions ran."""
    if address:
        return f"dask {address}"
    if workers and workers > 1:
        return f"dask LocalCluster {workers} processes"
    return InProcess.name


class ClusterUnreachable(ConnectionError):
    pass


def connect(address: str, timeout_s: float = 10):
    """A `distributed.Client` of the scheduler at `address`, or one line saying what to do."""
    from distributed import Client

    try:
        return Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnreachable(
            f"cannot reach the Dask scheduler at {address} ({exc}): start it and its workers "
            "(docs/scale.md), or run without --dask-address"
        ) from None


def check_cluster(address: str | None) -> None:
    """Before a run starts: the scheduler answers and has at least one worker."""
    if not address:
        return
    with connect(address) as client:
        if not client.scheduler_info().get("workers"):
            raise ClusterUnreachable(
                f"the Dask scheduler at {address} has no workers: start some with "
                f"`dask worker {address} --nthreads 1` (docs/scale.md)"
            )


@contextmanager
def partitions_for(workers: int, address: str | None) -> Iterator[Partitions]:
    """What runs the partitions of a run outside Prefect (`narratives run --no-prefect`)."""
    with cluster_address(workers, address) as where:
        if where is None:
            yield InProcess()
            return
        with connect(where) as client:
            yield DaskPartitions(client, describe(workers, address))
