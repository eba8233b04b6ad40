"""The embed and match steps' partitions as Prefect tasks on a Dask cluster, through Prefect's
own integration (prefect-dask's DaskTaskRunner): each partition is a task run in the flow run's
history, with retries; the step in the flow run stays the one writer (narratives.core.parallel
says how the work is cut and why).

A pipeline flow run with `workers` starts a LocalCluster for the run and hands its address
to the embed and match flows; with `dask_address` they use that scheduler. The model is loaded
once per worker process (narratives.vectors.step.load_embedder is cached there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from narratives.core.parallel import RETRIES, ahead_for, in_order


@task(name="partition", cache_policy=NO_CACHE, retries=RETRIES, retry_delay_seconds=1,
      task_run_name="{fn.__name__}-{index}")  # fmt: skip
def partition_task(fn: Callable, index: int, part, shared: dict):
    return fn(part, **shared)


class PrefectPartitions:
    """narratives.core.parallel.Partitions over a started DaskTaskRunner."""

    def __init__(self, runner, address: str):
        self.runner, self.name = runner, f"prefect-dask {address}"
        self.ahead = ahead_for(runner.client)

    def map(self, fn: Callable, items: Iterable, **shared: Any) -> Iterator:
        def submit(index: int, part):
            params = {"fn": fn, "index": index, "part": part, "shared": shared}
            return self.runner.submit(partition_task, params)

        return in_order(submit, items, self.ahead)


@contextmanager
def dask_partitions(address: str | None) -> Iterator[PrefectPartitions | None]:
    """Partitions on the Dask scheduler at `address` (None: none, the step runs in-process)."""
    if not address:
        yield None
        return
    from prefect_dask import DaskTaskRunner

    with DaskTaskRunner(address=address) as runner:
        yield PrefectPartitions(runner, address)
