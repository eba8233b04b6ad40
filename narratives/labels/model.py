"""A label: one analyst's verdict on one item (a passage or a document) for one narrative.

Items are named by content (a document's content hash, a passage's text hash), so a label means
the same in any database and under any set version. A label's id is a hash of everything it
says, so storing the same label twice (a re-run sync, an import of an export) stores it once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

# what an analyst can say of an item and a narrative
VERDICTS = {
    "asserts": "carries the narrative: states it as true",
    "refutes": "speaks of the narrative to deny or debunk it",
    "reports": 'attributes it neutrally ("officials claimed ...")',
    "no": "does not speak of this narrative",
    "none": "carries none of the set's narratives",
}
# what the head learns from a verdict: the narrative is spoken of (it is what the narrative
# head scores; whether it is asserted is the stance's business)
SPEAKS_OF = {"asserts", "refutes", "reports"}
STREAMS = ("uncertain", "audit", "imported")
KINDS = ("passage", "document")
FIELDS = ("set_id", "narrative_id", "item_kind", "stream", "verdict", "document_hash",
          "passage_hash", "lang", "day", "stratum", "stratum_share", "score", "set_version",
          "model_id", "run_id", "who", "labelled_at")  # fmt: skip
REQUIRED = ("set_id", "narrative_id", "item_kind", "stream", "verdict", "document_hash", "who",
            "labelled_at")  # fmt: skip


class BadLabel(ValueError):
    """A label that cannot be stored: the message names the field and what it should be."""


def carries(verdict: str) -> bool:
    """The audit's truth: does the item carry the narrative as prevalence counts it."""
    return verdict == "asserts"


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def label_id(label: dict) -> str:
    body = json.dumps({k: label.get(k) for k in FIELDS}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def validate(label: dict) -> dict:
    """The label with its id, or BadLabel naming what is wrong."""
    missing = [k for k in REQUIRED if not label.get(k)]
    if missing:
        raise BadLabel(f"label lacks {', '.join(missing)}")
    if label["verdict"] not in VERDICTS:
        raise BadLabel(f"verdict {label['verdict']!r} is not one of {', '.join(VERDICTS)}")
    if label["stream"] not in STREAMS:
        raise BadLabel(f"stream {label['stream']!r} is not one of {', '.join(STREAMS)}")
    if label["item_kind"] not in KINDS:
        raise BadLabel(f"item_kind {label['item_kind']!r} is not one of {', '.join(KINDS)}")
    if label["item_kind"] == "passage" and not label.get("passage_hash"):
        raise BadLabel("a passage label needs passage_hash")
    try:
        dt.datetime.fromisoformat(str(label["labelled_at"]))
    except ValueError:
        raise BadLabel(f"labelled_at {label['labelled_at']!r} is not an ISO date-time") from None
    clean = {k: label.get(k) for k in FIELDS}
    return clean | {"label_id": label.get("label_id") or label_id(clean)}
