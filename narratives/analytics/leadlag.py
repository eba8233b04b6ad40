"""Lead-lag across languages: where a narrative appeared first, and the lag that best aligns the
daily shares of two languages."""

from __future__ import annotations

import datetime as dt

import numpy as np

from narratives.core.langs import TRACKED


def first_appearances(con, narrative: str) -> list[tuple]:
    """(language, outlet kind, first time, outlet, documents) of a narrative's confirmed matches."""
    rows = con.execute(
        """SELECT lang, coalesce(outlet_kind, 'unknown') AS kind, min(published_at) AS first,
                  arg_min(outlet, published_at) AS outlet, count(DISTINCT document_id) AS docs
           FROM live_matches WHERE narrative_id = ? AND carries
           GROUP BY ALL ORDER BY first""",
        [narrative],
    ).fetchall()
    if not rows:
        _unknown_narrative(con, narrative)
    return rows


def daily_shares(con, narrative: str) -> tuple[list[dt.date], dict[str, np.ndarray]]:
    """Every day from the first to the last with coverage, and per language the share of its
    documents carrying the narrative (0 on days without coverage in that language)."""
    rows = con.execute(
        """WITH totals AS (SELECT day, lang, sum(total_documents) AS total FROM coverage_daily
                           GROUP BY ALL),
                hits AS (SELECT day, lang, count(DISTINCT document_id) AS matched FROM live_matches
                         WHERE narrative_id = ? AND carries GROUP BY ALL)
           SELECT t.day, t.lang, coalesce(h.matched, 0) / t.total
           FROM totals t LEFT JOIN hits h USING (day, lang) ORDER BY t.day""",
        [narrative],
    ).fetchall()
    if not rows:
        return [], {}
    start, end = rows[0][0], rows[-1][0]
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    series = {lang: np.zeros(len(days)) for lang in {r[1] for r in rows}}
    for day, lang, share in rows:
        series[lang][(day - start).days] = share
    return days, series


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 7) -> tuple[int, float] | None:
    """The lag (days) at which b follows a most closely: the shift maximising the Pearson
    correlation of a[t] with b[t + lag]. Positive: a leads. None when either is flat."""
    best = None
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[: len(a) - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: len(b) + lag])
        if len(x) < 3 or x.std() == 0 or y.std() == 0:
            continue
        r = float(np.corrcoef(x, y)[0, 1])
        # ties go to the smaller shift: no lag is claimed without evidence for it
        if (
            best is None
            or r > best[1] + 1e-9
            or (abs(r - best[1]) <= 1e-9 and abs(lag) < abs(best[0]))
        ):
            best = (lag, r)
    return best


def lead_lag(con, narrative: str, max_lag: int = 7) -> dict:
    first = first_appearances(con, narrative)
    days, series = daily_shares(con, narrative)
    pairs = []
    langs = [lang for lang in TRACKED if lang in series]
    for i, a in enumerate(langs):
        for b in langs[i + 1 :]:
            found = best_lag(series[a], series[b], max_lag)
            if found is None:
                continue
            lag, r = found
            leader, follower = (a, b) if lag >= 0 else (b, a)
            pairs.append(
                {"leader": leader, "follower": follower, "lag_days": abs(lag), "correlation": r}
            )
    by_lang = {}
    for lang, _kind, first_at, outlet, _docs in first:
        by_lang.setdefault(lang, (first_at, outlet))
    return {"narrative": narrative, "first": first, "first_by_lang": by_lang, "pairs": pairs,
            "days": len(days)}  # fmt: skip


def _unknown_narrative(con, narrative: str) -> None:
    known = [r[0] for r in con.execute(
        "SELECT DISTINCT narrative_id FROM prevalence_daily ORDER BY 1").fetchall()]  # fmt: skip
    if narrative not in known:
        raise LookupError(
            f"no narrative {narrative!r} is tracked; known: {', '.join(known) or 'none'}"
        )
    raise LookupError(f"narrative {narrative!r} has no confirmed matches yet")
