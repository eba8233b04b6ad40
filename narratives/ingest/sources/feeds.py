"""RSS 0.9x/1.0/2.0 and Atom feeds, read incrementally.

The feed is requested with the validators of the last run (ETag, Last-Modified), so an unchanged
feed costs one 304. Items already seen are skipped before anything else is fetched. An item whose
feed carries only a summary gets its full article from its link (trafilatura), unless the source
says `full_text = "never"`. A feed cut off mid-way still gives its complete items, and one error.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from narratives.ingest.http import FetchError, fetch
from narratives.ingest.model import IngestProblem, RawDocument
from narratives.ingest.sources.corpus import parse_datetime
from narratives.ingest.sources.pages import check_text, document_from_page, limits
from narratives.ingest.sources_file import Source

FULL_TEXT_CHARS = 600  # an item with less text than this in the feed is treated as a summary


@dataclass
class FeedRead:
    """What one read of a feed gave: its items (and problems), and the new validators."""

    items: list[RawDocument | IngestProblem] = field(default_factory=list)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None


def read_feed(source: Source, client, state) -> FeedRead:
    import feedparser

    try:
        resp = fetch(source.url, client=client, etag=state.etag,
                     last_modified=state.last_modified, **limits(source))  # fmt: skip
    except FetchError as exc:
        return FeedRead([IngestProblem(source.url, exc.reason, retry=True, network=exc.network)])
    out = FeedRead(etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified"))
    if resp.not_modified:
        out.not_modified = True
        out.etag, out.last_modified = state.etag, state.last_modified
        return out
    parsed = feedparser.parse(
        # no content-location: feedparser would resolve a relative guid ("c-1") against it
        resp.body,
        response_headers={"content-type": resp.headers.get("content-type", "")},
    )
    entries = list(parsed.entries)
    error = _parse_error(parsed)
    if error is not None:
        # the loose parser also returns the item the cut fell in: keep only complete ones
        complete = len(re.findall(rb"</(?:item|entry)\s*>", resp.body))
        kept = entries[:complete]
        reason = (f"{source.url} is not a valid RSS or Atom feed ({error})" if not kept else
                  f"{source.url} is malformed or cut off ({error}); read its {len(kept)} complete "
                  f"items, skipped {len(entries) - len(kept)} incomplete")  # fmt: skip
        out.items.append(IngestProblem(source.url, reason, retry=True))
        out.etag = out.last_modified = None  # read it in full next time: it may be mended
        entries = kept
    elif not entries and not parsed.get("version"):
        out.items.append(
            IngestProblem(source.url, f"{source.url} is not an RSS or Atom feed", retry=True)
        )
    for n, entry in enumerate(entries, 1):
        item_id = entry.get("id") or entry.get("link")
        if not item_id:
            out.items.append(
                IngestProblem(f"{source.url}#{n}", f"item {n} has neither a guid/id nor a link")
            )
            continue
        if item_id in state.seen:
            state.skipped += 1
            continue
        out.items.append(_document(source, client, entry, item_id))
    return out


def _parse_error(parsed) -> str | None:
    import feedparser

    exc = parsed.get("bozo_exception")
    if not parsed.get("bozo") or exc is None:
        return None
    if isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
        return None  # a wrong charset or content type that the parser got past
    line = getattr(exc, "getLineNumber", lambda: None)()
    return f"{exc.getMessage() if hasattr(exc, 'getMessage') else exc}" + (
        f" at line {line}" if line else ""
    )


def _document(source: Source, client, entry, item_id: str) -> RawDocument | IngestProblem:
    published = _entry_date(entry)
    if isinstance(published, str):
        return IngestProblem(item_id, published)
    title = entry.get("title")
    content = " ".join(c.get("value", "") for c in entry.get("content", []))
    inline = html_to_text(content or entry.get("summary", ""))
    link = entry.get("link")
    want_page = source.full_text == "always" or (
        source.full_text == "auto" and len(inline) < FULL_TEXT_CHARS
    )
    if want_page and link:
        try:
            resp = fetch(link, client=client, **limits(source))
        except FetchError as exc:
            return IngestProblem(
                item_id, f"article {exc.reason}", retry=exc.network, network=exc.network
            )
        doc = document_from_page(source, link, resp, item_id, {"published_at": published, "title": title,
                                                                "author": entry.get("author")})  # fmt: skip
        if isinstance(doc, RawDocument) or check_text(inline, item_id) is not None:
            return doc
        # the page had no extractable article, but the feed's own text is a usable document
    problem = check_text(inline, f"item {item_id}")
    if problem:
        return IngestProblem(item_id, problem)
    return RawDocument(
        external_id=item_id, text=inline, outlet=source.outlet, outlet_kind=source.outlet_kind,
        url=link, lang=source.lang, published_at=published, title=title,
        meta={"author": entry["author"]} if entry.get("author") else {},
    )  # fmt: skip


def _entry_date(entry) -> dt.datetime | str:
    """The item's publication time (naive UTC), or the reason it has none."""
    for key in ("published", "updated", "created"):
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            when = parse_datetime(dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC))
            if when is None:
                return f"item date {entry.get(key)!r} is impossible (before 1990 or in the future)"
            return when
    raw = entry.get("published") or entry.get("updated")
    if raw:
        return f"item date {raw!r} is not a date"
    return "item has no date (no pubDate, published or updated)"


_BLOCK = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/blockquote)\s*/?>", re.I)


def html_to_text(html: str) -> str:
    """The text of an HTML fragment (a feed's summary or content), paragraphs as lines."""
    if not html or "<" not in html:
        return (html or "").strip()
    import lxml.html

    try:
        root = lxml.html.fromstring(_BLOCK.sub("\n", html))
    except (ValueError, lxml.etree.ParserError):
        return ""
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)
