"""Reading alerts back for the CLI."""

from __future__ import annotations


def list_alerts(con, subject: str | None = None) -> list[tuple]:
    """(kind, subject, day, lang, matched, total, share, baseline, p-value, test) of stored
    alerts, oldest first; only one narrative's or cluster's with `subject`."""
    return con.execute(
        "SELECT subject_kind, subject_id, day, lang, matched, total, round(share, 3), "
        "round(baseline, 3), p_value, test FROM alerts WHERE $s IS NULL OR subject_id = $s "
        "ORDER BY day, subject_kind, subject_id, lang",
        {"s": subject},
    ).fetchall()


def lead_lag(con, narrative: str, max_lag: int = 7) -> dict:
    """Where a narrative appeared first per language and the lag that best aligns two
    languages' daily shares (`leadlag.lead_lag`), for the dashboards."""
    from narratives.analytics.leadlag import lead_lag as _lead_lag

    return _lead_lag(con, narrative, max_lag)


def amplifiers(con, narrative: str | None = None) -> list[dict]:
    """Outlets ranked as originators or amplifiers (`amplification.amplifiers`)."""
    from narratives.analytics.amplification import amplifiers as _amplifiers

    return _amplifiers(con, narrative)


def reprint_chains(con, narrative: str | None = None) -> list[tuple]:
    """(original outlet, original day, title, copying outlet, copy day, kind, similarity, delay
    in hours) of every stored reprint edge, earliest original first; with a narrative, only
    edges whose original carries it (a reprint's passages are the original's)."""
    return con.execute(
        """SELECT oo.name, CAST(o.published_at AS DATE), o.title, co.name,
                  CAST(c.published_at AS DATE), r.kind, round(r.similarity, 3),
                  round(r.delay_seconds / 3600, 1)
           FROM reprints r JOIN documents o ON o.id = r.original_id
           JOIN documents c ON c.id = r.reprint_id
           LEFT JOIN outlets oo ON oo.id = o.outlet_id LEFT JOIN outlets co ON co.id = c.outlet_id
           WHERE $n IS NULL OR r.original_id IN (SELECT document_id FROM live_matches
                                                 WHERE carries AND narrative_id = $n)
           ORDER BY o.published_at, oo.name, c.published_at""",
        {"n": narrative},
    ).fetchall()
