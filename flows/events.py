"""Prefect events for what an operator watches beyond a run's state: bad items at ingest and new
alerts. Prefect automations react to them (docs/operations.md: a notification per event).

Each event's resource is the home (`narratives.home.<hash>`, named by its path); Prefect adds the
flow run, its deployment and tags as related resources."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect.events import emit_event

from flows.limits import home_limit_name

log = logging.getLogger("flows.events")

INGEST_ERRORS = "narratives.ingest.errors"
ALERTS_NEW = "narratives.alerts.new"


def home_resource(home: Path) -> dict[str, str]:
    return {
        "prefect.resource.id": "narratives.home." + home_limit_name(home).rsplit("-", 1)[1],
        "prefect.resource.name": str(home),
    }


def emit(event: str, home: Path, payload: dict) -> None:
    """Emit an event about a home; never fails the run that emits it."""
    try:
        emit_event(event=event, resource=home_resource(home), payload=payload)
    except Exception as exc:  # a lost event must not fail the run that found it
        log.warning("could not emit the Prefect event %s: %s", event, exc)


def ingest_errors(home: Path, counts: dict) -> None:
    """`narratives.ingest.errors` when an ingest skipped bad items: how many, per source."""
    if counts.get("errors"):
        per_source = {sid: s["error"] for sid, s in (counts.get("sources") or {}).items()
                      if s.get("error")}  # fmt: skip
        emit(INGEST_ERRORS, home, {"errors": counts["errors"], "sources": per_source})


def alerts_new(home: Path, counts: dict) -> None:
    """`narratives.alerts.new` when a run raised new alerts."""
    if counts.get("alerts_new"):
        emit(ALERTS_NEW, home, {"alerts_new": counts["alerts_new"],
                                "alerts_found": counts.get("alerts_found")})  # fmt: skip
