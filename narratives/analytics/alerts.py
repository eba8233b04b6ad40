"""Alerts: days whose share of documents carrying a narrative (or a cluster) in a language rose
well above its trailing baseline, with the one-sided binomial test that said so."""

from __future__ import annotations

import datetime as dt

from narratives.core.settings import AlertSettings
from narratives.core.store import transaction


def _daily_counts(con, subject_kind: str) -> list[tuple]:
    """(subject id, day, lang, documents carrying it, documents that day in that language)."""
    if subject_kind == "narrative":
        hits = (
            "SELECT narrative_id AS subject, day, lang, count(DISTINCT document_id) AS matched "
            "FROM live_matches WHERE carries GROUP BY ALL"
        )
    else:
        hits = (
            "SELECT CAST(m.cluster_id AS VARCHAR) AS subject, f.day, f.lang, "
            "count(DISTINCT f.document_id) AS matched FROM cluster_members m "
            "JOIN passage_facts f ON f.passage_id = m.passage_id GROUP BY ALL"
        )
    return con.execute(
        f"""WITH totals AS (SELECT day, lang, sum(total_documents) AS total FROM coverage_daily
                            GROUP BY ALL),
                 hits AS ({hits}),
                 subjects AS (SELECT DISTINCT subject FROM hits)
            SELECT s.subject, t.day, t.lang, coalesce(h.matched, 0), t.total
            FROM totals t CROSS JOIN subjects s
            LEFT JOIN hits h ON h.subject = s.subject AND h.day = t.day AND h.lang = t.lang
            ORDER BY s.subject, t.lang, t.day"""
    ).fetchall()


def find_alerts(
    con, subject_kind: str = "narrative", params: AlertSettings | None = None
) -> list[dict]:
    """Days whose share of documents carrying a narrative (or cluster) in a language rose well
    above the trailing baseline: the day's count is improbable under the baseline share
    (one-sided binomial test), and large in ratio and count, so one stray document on a
    quiet day does not alert."""
    if subject_kind not in ("narrative", "cluster"):
        raise ValueError("subject kind must be narrative or cluster")
    p = params or AlertSettings()
    series: dict[tuple[str, str], list[tuple]] = {}
    for subject, day, lang, matched, total in _daily_counts(con, subject_kind):
        series.setdefault((subject, lang), []).append((day, int(matched), int(total)))
    out = []
    for (subject, lang), days in series.items():
        for i, (day, matched, total) in enumerate(days):
            since = day - dt.timedelta(days=p.baseline_days)
            past = [(m, t) for d, m, t in days[:i] if d >= since]
            past_total = sum(t for _, t in past)
            if past_total < p.min_baseline_documents or matched < p.min_matched:
                continue
            # add-half smoothing: a narrative never seen before has a small, not zero, baseline
            baseline = (sum(m for m, _ in past) + 0.5) / (past_total + 1)
            share = matched / total
            p_value = binomial_upper_tail(matched, total, baseline)
            if share >= p.min_ratio * baseline and p_value < p.alpha:
                out.append({
                    "subject_kind": subject_kind, "subject_id": subject, "day": day,
                    "lang": lang, "matched": matched, "total": total, "share": share,
                    "baseline": baseline, "p_value": p_value, "test": p.test,
                })  # fmt: skip
    return out


def binomial_upper_tail(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Binomial(n, p): SciPy's exact one-sided binomial test (it replaced a
    hand-written log-space sum). The edges SciPy rejects (x > n, p outside (0, 1)) are answered
    here, as the test would if it took them."""
    if x <= 0:
        return 1.0
    if x > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    from scipy.stats import binomtest  # imported here: alerts run daily, scipy loads in ~0.3 s

    return float(binomtest(x, n, p, alternative="greater").pvalue)


def store_alerts(con, alerts: list[dict], run_id: int | None = None) -> int:
    """Insert alerts not stored before (same subject, day, language and test): idempotent."""
    new = 0
    with transaction(con):
        for a in alerts:
            new += con.execute(
                "INSERT INTO alerts (run_id, subject_kind, subject_id, day, lang, matched, total, "
                "share, baseline, p_value, test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                [run_id, a["subject_kind"], a["subject_id"], a["day"], a["lang"], a["matched"],
                 a["total"], a["share"], a["baseline"], a["p_value"], a["test"]],
            ).fetchall().__len__()  # fmt: skip
    return new
