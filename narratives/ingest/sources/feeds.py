"""RSS 0.9x/1.0/2.0 and Atom feeds, read incrementally.

The feed is requested with the validators of the last run (ETag, Last-Modified), so an unchanged
feed costs one 304. Items already seen are skipped before anything else is fetched. An item whose
feed carries only a summary gets its full article from its link (trafilatura), unless the source
says `full_text = "never"`; when that page cannot be had (gone, timed out, no article text), the
item is stored from the feed's own headline and summary, with `page_failed` in its meta. A feed
cut off mid-way still gives its complete items, and one error.

Feed readers keep what this module keeps: an item with no date gets the time it was first seen
(`date_inferred` in its meta, so analysts can filter it), and an item with neither guid nor link
is known by a hash of its title and text, so reading it again adds nothing. The body is decoded
by `http.decode` before parsing, so a feed whose declared charset is wrong is still read right.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from narratives.ingest.http import FetchError, decode, fetch
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
    body = _as_utf8(resp.body, resp.headers.get("content-type", ""))
    parsed = feedparser.parse(
        # no content-location: feedparser would resolve a relative guid ("c-1") against it
        body,
        response_headers={"content-type": _XML_TYPE},
    )
    entries = list(parsed.entries)
    error = _parse_error(parsed)
    if error is not None:
        # the loose parser also returns the item the cut fell in: keep only complete ones
        complete = len(re.findall(rb"</(?:item|entry)\s*>", body))
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
    first_seen = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for entry in entries:
        # an item with neither guid nor link is known by a hash of what it says, so the same item
        # read again is the same document (feed readers do the same)
        item_id = entry.get("id") or entry.get("link") or _content_id(entry)
        if item_id in state.seen:
            state.skipped += 1
            continue
        out.items.append(_document(source, client, entry, item_id, first_seen))
    return out


def _as_utf8(body: bytes, content_type: str) -> bytes:
    """The feed re-encoded as UTF-8, decoded by the project's own rules (`http.decode`): a feed
    that declares UTF-8 but sends windows-1251 is detected and read right, where feedparser
    falls back to windows-1252 and stores mojibake. Its XML declaration is made to agree."""
    text = decode(body, content_type)
    return _XML_DECL_ENCODING.sub(r"\1utf-8\2", text, count=1).encode("utf-8")


# handed to feedparser with the re-encoded bytes: an XML type whose charset is authoritative
_XML_TYPE = "application/xml; charset=utf-8"
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[A-Za-z0-9_.:-]+(["'])""")


def _content_id(entry) -> str:
    content = " ".join(c.get("value", "") for c in entry.get("content", []))
    parts = (entry.get("title") or "", content or entry.get("summary") or "")
    return "sha1:" + hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()


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


def _document(
    source: Source, client, entry, item_id: str, first_seen: dt.datetime
) -> RawDocument | IngestProblem:
    published = _entry_date(entry)
    if isinstance(published, str):
        return IngestProblem(item_id, published)
    title = entry.get("title")
    meta = {"author": entry["author"]} if entry.get("author") else {}
    fallback = {"published_at": published, "title": title, "author": entry.get("author")}
    if published is None:
        # no date at all: the article page's date if it has one, else the time the item was
        # first seen stands in, flagged so analysts can filter it
        published, meta["date_inferred"] = first_seen, True
        fallback["first_seen"] = first_seen
    content = " ".join(c.get("value", "") for c in entry.get("content", []))
    inline = html_to_text(content or entry.get("summary", ""))
    link = entry.get("link")
    want_page = source.full_text == "always" or (
        source.full_text == "auto" and len(inline) < FULL_TEXT_CHARS
    )
    page_problem = None
    if want_page and link:
        try:
            resp = fetch(link, client=client, **limits(source))
        except FetchError as exc:
            page_problem = IngestProblem(item_id, f"article {exc.reason}", retry=exc.network,
                                         network=exc.network)  # fmt: skip
        else:
            doc = document_from_page(source, link, resp, item_id, fallback)
            if isinstance(doc, RawDocument):
                return doc
            page_problem = doc
    text = inline
    if page_problem is not None:
        # the article could not be had (gone, timed out, no text): the feed's own headline and
        # summary are still a usable document, kept and flagged rather than lost
        meta["page_failed"] = page_problem.reason
        if title and not inline.startswith(title.strip()):
            text = f"{title.strip()}\n{inline}".strip()
    problem = check_text(text, f"item {item_id}")
    if problem:
        return page_problem or IngestProblem(item_id, problem)
    return RawDocument(
        external_id=item_id, text=text, outlet=source.outlet, outlet_kind=source.outlet_kind,
        url=link, lang=source.lang, published_at=published, title=title, meta=meta,
    )  # fmt: skip


def _entry_date(entry) -> dt.datetime | str | None:
    """The item's publication time (naive UTC), None when it gives none, or why its date is bad."""
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
    return None


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
