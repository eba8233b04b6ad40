"""One ingesting run per home at a time: a Prefect global concurrency limit of 1 per home.

A pipeline run, and an ingest run on its own, hold their home's slot for their whole length
(`one_run_per_home`). A second run on the same home, from any deployment, a worker or
`narratives run` against the same server, waits for the slot (and logs that it waits), then
runs: the steps are incremental, so a run that waited finds little left to do. The limit is
named `narratives-home-<hash of the home's path>` and created, with 1 slot, by the first run
that needs it (`prefect gcl ls` lists it); disable it (`prefect gcl disable NAME`) to let runs
on that home overlap. A slot is leased: a run killed outright gives its slot back when the
lease runs out (LEASE_S).

Overlapping runs of one deployment are held before they start, by the deployment's own
concurrency limit (flows/deploy.py, prefect.yaml): they wait in the `AwaitingConcurrencySlot`
state and take no worker process meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("flows.limits")

LEASE_S = 300  # a killed run's slot is free again after this long
SAY_WAITING_AFTER_S = 2.0


def home_limit_name(home: Path) -> str:
    """The global concurrency limit of a home: one name per absolute path."""
    digest = hashlib.sha1(str(Path(home)).encode("utf-8")).hexdigest()[:12]
    return f"narratives-home-{digest}"


def ensure_home_limit(name: str) -> None:
    """Create the limit (1 slot) when it does not exist; leave an existing one as it is."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
            except ObjectAlreadyExists:  # another run created it meanwhile
                pass


@contextmanager
def one_run_per_home(
    home: Path, logger: logging.Logger | logging.LoggerAdapter = log
) -> Iterator[None]:
    """Hold the home's slot for the block, waiting for it while another run holds it."""
    from prefect.concurrency.sync import concurrency

    name = home_limit_name(home)
    ensure_home_limit(name)
    started = time.monotonic()
    say = threading.Timer(SAY_WAITING_AFTER_S, logger.info,
                          ("waiting: another run is working on home %s (concurrency limit %s)",
                           home, name))  # fmt: skip
    say.daemon = True
    say.start()
    try:
        with concurrency(name, occupy=1, lease_duration=LEASE_S, strict=True):
            say.cancel()
            waited = time.monotonic() - started
            if waited > SAY_WAITING_AFTER_S:
                logger.info("home %s is free after %.0f s: running", home, waited)
            yield
    finally:
        say.cancel()
