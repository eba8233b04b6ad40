"""Documents from a JSONL file (the demo corpus's format; the `files` source kind builds on it).

One JSON object a line with at least `id` and `text`, and usually `outlet`, `outlet_kind`,
`lang`, `published_at`, `url`, `title`; `gold_narratives` (or `labels`) are kept as gold labels
for checks and never read by the matcher. A bad line is reported and skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from narratives.ingest.model import IngestProblem, RawDocument

KNOWN = {"id", "url", "outlet", "outlet_kind", "lang", "published_at", "title", "text",
         "gold_narratives", "labels"}  # fmt: skip


def read_jsonl(path: str | Path) -> Iterator[RawDocument | IngestProblem]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no corpus at {path}; pass --corpus with a JSONL file of documents"
        )
    for where, row in jsonl_rows(path):
        yield row if isinstance(row, IngestProblem) else document_from_row(row, where)


def jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    """(where, parsed line) per non-blank line; a malformed line gives an IngestProblem."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    where,
                    IngestProblem(where, f"not valid JSON ({exc.msg} at column {exc.colno})"),
                )


def document_from_row(row, where: str) -> RawDocument | IngestProblem:
    if not isinstance(row, dict):
        return IngestProblem(where, "expected a JSON object with at least 'id' and 'text'")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return IngestProblem(where, "has no text (field 'text' is missing or empty)")
    ext_id = row.get("id") or row.get("url")
    if not ext_id:
        return IngestProblem(where, "has neither 'id' nor 'url' to identify it")
    published = row.get("published_at")
    when = parse_datetime(published) if published else None
    if published and when is None:
        return IngestProblem(where, f"published_at {published!r} is not a date (use ISO 8601)")
    labels = row.get("gold_narratives", row.get("labels"))
    return RawDocument(
        external_id=str(ext_id),
        text=text,
        outlet=str(row.get("outlet") or "unknown"),
        outlet_kind=row.get("outlet_kind"),
        url=row.get("url"),
        lang=row.get("lang"),
        published_at=when,
        title=row.get("title"),
        gold_labels=list(labels) if isinstance(labels, list) else None,
        meta={k: v for k, v in row.items() if k not in KNOWN},
    )


EARLIEST = dt.datetime(1990, 1, 1)


def parse_datetime(value) -> dt.datetime | None:
    """An ISO 8601 date or date-time as naive UTC; None when unparseable or impossible
    (before 1990 or more than a day in the future)."""
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            when = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if when < EARLIEST or when > now + dt.timedelta(days=1):
        return None
    return when
