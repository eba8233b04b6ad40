"""What every source kind produces."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


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


@dataclass
class IngestProblem:
    """A bad item: where it was and what is wrong with it, in a reader's terms."""

    item: str
    reason: str
