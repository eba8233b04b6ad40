"""What every source kind produces."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# the most text one document may hold (docs/ingest.md): more is a dump, a log or a feed of
# everything, not an article, and would become tens of thousands of passages to embed and match
MAX_TEXT_CHARS = 200_000


@dataclass
class RawDocument:
    external_id: str
    text: str
    outlet: str
    outlet_kind: str | None = None
    url: str | None = None
    lang: str | None = None  # as declared by the source; the tracker identifies it again
    published_at: dt.datetime | None = None
    title: str | None = None
    gold_labels: list[str] | None = None
    meta: dict = field(default_factory=dict)
    forward: Forward | None = None  # a re-post whose origin the source names (Telegram)


@dataclass
class Forward:
    """Where a forwarded post came from, and how many saw the forward: amplification data."""

    origin_name: str
    origin_message_id: str | None = None
    origin_date: dt.datetime | None = None
    views: int | None = None


@dataclass
class IngestProblem:
    """A bad item: where it was and what is wrong with it, in a reader's terms."""

    item: str
    reason: str
    # worth trying again next run, so not marked seen: a network failure, or a whole source
    # that is broken now (a malformed feed or export) and may be fixed
    retry: bool = False
    network: bool = False  # the network failed (a timeout, a refused connection, a 5xx)
