"""Read queries of the ingest stage: per-source status, bad items, and stored passages with
their document and outlet (what search shows for a hit)."""

from __future__ import annotations


def source_status(con) -> list[tuple]:
    """Per source: kind, last run, status, its counts, documents stored, errors recorded."""
    return con.execute(
        """
        SELECT s.source_id, s.kind, s.last_run_at, s.last_status,
               (SELECT count(*) FROM documents d WHERE d.source_id = s.source_id) AS documents,
               (SELECT count(*) FROM documents d JOIN reprints r ON r.reprint_id = d.id
                WHERE d.source_id = s.source_id) AS reprints,
               (SELECT count(*) FROM ingest_errors e WHERE e.source_id = s.source_id) AS errors,
               s.last_counts, s.last_error
        FROM source_state s ORDER BY s.source_id
        """
    ).fetchall()


def recent_errors(con, source_id: str | None = None, limit: int = 50) -> list[tuple]:
    return con.execute(
        "SELECT created_at, source_id, item, reason FROM ingest_errors "
        "WHERE $source IS NULL OR source_id = $source ORDER BY id DESC LIMIT $limit",
        {"source": source_id, "limit": limit},
    ).fetchall()


def passage_details(con, passage_ids: list[int], lang: str | None = None) -> list[dict]:
    """The stored passages among `passage_ids` (only those in `lang` if given), each with its
    language, text, outlet, day, URL and title; in no particular order."""
    if not passage_ids:
        return []
    cur = con.execute(
        """
        SELECT p.id, p.lang, p.text, o.name AS outlet, o.kind AS outlet_kind,
               CAST(d.published_at AS DATE) AS day, d.url, d.title
        FROM passages p JOIN documents d ON d.id = p.document_id
        LEFT JOIN outlets o ON o.id = d.outlet_id
        WHERE p.id IN (SELECT unnest(?)) AND (? IS NULL OR p.lang = ?)
        """,
        [list(passage_ids), lang, lang],
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
