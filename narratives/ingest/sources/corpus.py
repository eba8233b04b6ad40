"""Documents from a JSONL file (the demo corpus's format; the `files` source kind builds on it).

One JSON object a line with at least `id` and `text`, and usually `outlet`, `outlet_kind`,
`lang`, `published_at`, `url`, `title`; `gold_narratives` (or `labels`) are kept as gold labels
for checks and never read by the matcher. A bad line (not UTF-8, not a JSON object, no text, a
text over 200,000 characters, a field of the wrong type, an unknown `outlet_kind`, a date that is
not one) is reported with the reason and skipped; a null date is no date.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from narratives.ingest.model import MAX_TEXT_CHARS, IngestProblem, RawDocument
from narratives.ingest.sources_file import OUTLET_KINDS

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
    # read as bytes and decode each line on its own: a line in another encoding is one bad item
    # with a reason, not text silently full of replacement characters
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path.name}:{number}"
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte-order mark some editors write
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = (f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte "
                          f"{exc.start + 1} of the line); save the file as UTF-8")  # fmt: skip
                yield where, IngestProblem(where, reason)
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    where,
                    IngestProblem(where, f"not valid JSON ({exc.msg} at column {exc.colno})"),
                )


def document_from_row(row, where: str) -> RawDocument | IngestProblem:
    """A document from one record, or the reason the record is not one (in the file's terms)."""
    if not isinstance(row, dict):
        got = type(row).__name__ if row is not None else "null"
        return IngestProblem(
            where, f"expected a JSON object with at least 'id' and 'text', got {got}"
        )
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return IngestProblem(where, "has no text (field 'text' is missing or empty)")
    if len(text) > MAX_TEXT_CHARS:
        # refused, not cut: a text this long is a dump or many articles run together, and its
        # first 200,000 characters stored as one article would count as coverage it is not
        return IngestProblem(where, f"{len(text):,} characters of text, over the "
                                    f"{MAX_TEXT_CHARS:,} limit for one document; split it into "
                                    "one record per article")  # fmt: skip
    ext_id = row.get("id") or row.get("url")
    if not ext_id:
        return IngestProblem(where, "has neither 'id' nor 'url' to identify it")
    if isinstance(ext_id, bool) or not isinstance(ext_id, str | int):
        return IngestProblem(where, f"'id' must be a text or a number, got {ext_id!r:.60}")
    # a list or an object where a text belongs would fail the whole batch's insert (an outlet
    # may be a number, a CSV column of outlet ids: it is stored as text)
    wrong = [k for k in ("title", "url", "lang") if not isinstance(row.get(k), str | None)]
    wrong += ["outlet"] if isinstance(row.get("outlet"), list | dict) else []
    if wrong:
        return IngestProblem(where, f"'{wrong[0]}' must be a text, got {row[wrong[0]]!r:.60}")
    outlet_kind = row.get("outlet_kind")
    if outlet_kind is not None and outlet_kind not in OUTLET_KINDS:
        return IngestProblem(where, f"outlet_kind {outlet_kind!r:.60} is not one of "
                                    f"{', '.join(OUTLET_KINDS)} (or leave it out)")  # fmt: skip
    published = row.get("published_at")
    # null (or an empty text) is no date: stored, and left out of counts by day
    when = parse_datetime(published) if published not in (None, "") else None
    if published not in (None, "") and when is None:
        return IngestProblem(where, f"published_at {published!r:.60} is not a date (use ISO 8601)")
    labels = row.get("gold_narratives", row.get("labels"))
    return RawDocument(
        external_id=str(ext_id),
        text=text,
        outlet=str(row.get("outlet") or "unknown"),
        outlet_kind=outlet_kind,
        url=row.get("url"),
        lang=row.get("lang"),
        published_at=when,
        title=row.get("title"),
        gold_labels=[str(x) for x in labels] if isinstance(labels, list) else None,
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
