"""Article pages: main text, title, author and date, extracted with trafilatura."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from narratives.ingest.http import FetchError, Response, fetch
from narratives.ingest.model import MAX_TEXT_CHARS, IngestProblem, RawDocument
from narratives.ingest.sources.corpus import parse_datetime
from narratives.ingest.sources_file import Source

MIN_TEXT_CHARS = 80  # less than this is a navigation page, a paywall stub or an empty article

logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


def extract(html: str, url: str) -> dict | None:
    """{'text', 'title', 'author', 'date'} of the page's main content, or None when it has none."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        date_extraction_params={"extensive_search": False, "original_date": True,
                                # the time too, when the page gives it: reprint delays need it
                                "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )  # fmt: skip
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return {k: data.get(k) for k in ("text", "title", "author", "date")}


def document_from_page(
    source: Source, url: str, response: Response, item_id: str | None = None,
    fallback: dict | None = None,
) -> RawDocument | IngestProblem:  # fmt: skip
    """A page's article as a document; `fallback` (from a feed item) fills what the page lacks:
    its `published_at` is used over the page's date, its `first_seen` only when neither has one."""
    where = item_id or url
    fallback = fallback or {}
    if (
        response.content_type
        and "html" not in response.content_type
        and "xml" not in response.content_type
    ):
        return IngestProblem(where, f"{url} is {response.content_type}, not an HTML page")
    html = response.text()
    found = extract(html, response.url) if html.strip() else None
    text = (found or {}).get("text") or ""
    problem = check_text(text, url)
    if problem:
        return IngestProblem(where, problem)
    published = fallback.get("published_at")
    meta = {"author": found.get("author") or fallback.get("author")}
    if published is None:
        raw = found.get("date")
        if not raw and fallback.get("first_seen"):
            # a feed item with no date on the page either: the time it was first seen stands in
            published, meta["date_inferred"] = fallback["first_seen"], True
        elif not raw:
            return IngestProblem(where, f"{url}: no publication date found on the page")
        else:
            published = parse_datetime(raw)
            if published is None:
                return IngestProblem(where, f"{url}: publication date {raw!r} is impossible")
    return RawDocument(
        external_id=item_id or url,
        text=text,
        outlet=source.outlet,
        outlet_kind=source.outlet_kind,
        url=response.url,
        lang=source.lang,
        published_at=published,
        title=fallback.get("title") or found.get("title"),
        meta={k: v for k, v in meta.items() if v},
    )


def check_text(text: str, where: str) -> str | None:
    """Why a text is not a usable document, or None when it is."""
    size = len(text.strip())
    if size < MIN_TEXT_CHARS:
        return f"{where}: no article text ({size} characters after extraction)"
    if size > MAX_TEXT_CHARS:
        return f"{where}: {size:,} characters of text, over the {MAX_TEXT_CHARS:,} limit for one document"
    return None


def read_pages(source: Source, client, state) -> Iterator[RawDocument | IngestProblem]:
    """Each URL of a `page` source not seen before, fetched and extracted."""
    for url in source.urls:
        if url in state.seen:
            state.skipped += 1
            continue
        try:
            resp = fetch(url, client=client, **limits(source))
        except FetchError as exc:
            yield IngestProblem(url, exc.reason, retry=exc.network, network=exc.network)
            continue
        yield document_from_page(source, url, resp)


def limits(source: Source) -> dict:
    return {
        "allow_private": source.allow_private,
        "timeout_s": source.timeout_s,
        "max_bytes": source.max_bytes,
        "max_redirects": source.max_redirects,
    }


def as_naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
