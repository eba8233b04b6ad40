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
