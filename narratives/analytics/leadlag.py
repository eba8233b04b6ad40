"""Lead-lag across languages: where a narrative appeared first, and the lag that best aligns the
daily shares of two languages, with a permutation test of that lag."""

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


PERMUTATIONS = 499  # p-values down to 1/500; a pair costs ~0.1 s
ALPHA = 0.05


def lag_p_value(
    a: np.ndarray, b: np.ndarray, max_lag: int, observed: float, seed: int = 0
) -> float:
    """How often a correlation at least as high as `observed` appears at any lag when b's days
    are shuffled (a permutation test of the maximum over lags, so trying 2*max_lag+1 shifts is
    paid for). Seeded: the same store gives the same p-value."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(PERMUTATIONS):
        found = best_lag(a, rng.permutation(b), max_lag)
        hits += found is not None and found[1] >= observed - 1e-12
    return (hits + 1) / (PERMUTATIONS + 1)


def reading(pair: dict, first_by_lang: dict) -> str:
    """One sentence per pair that says both what the first documents show and what the daily
    shares show, and which one is a test: before, "first: ru -> uk -> en" and "en leads ru by 3
    days" were printed side by side for the same narrative with nothing to reconcile them."""
    a, b = pair["leader"], pair["follower"]
    (first_a, _), (first_b, _) = first_by_lang[a], first_by_lang[b]
    seen = (f"{a} seen first" if first_a < first_b else f"{b} seen first" if first_b < first_a
            else "seen the same moment")  # fmt: skip
    if pair["p_value"] >= ALPHA:
        return f"no significant lead (p={pair['p_value']:.2f}); {seen} (one document, not a test)"
    if pair["lag_days"] == 0:
        return f"they move together, no lead (p={pair['p_value']:.3f}); {seen}"
    agrees = first_a <= first_b
    return (f"{a} leads {b} by {pair['lag_days']} day(s) (p={pair['p_value']:.3f}); {seen}"
            + ("" if agrees else ": the first document is earlier, the bulk later"))  # fmt: skip


def lead_lag(con, narrative: str, max_lag: int = 7) -> dict:
    first = first_appearances(con, narrative)
    days, series = daily_shares(con, narrative)
    by_lang = {}
    for lang, _kind, first_at, outlet, _docs in first:
        by_lang.setdefault(lang, (first_at, outlet))
    # a lag is tried only where the shifted series still overlap on half the days: a correlation
    # of three points is near 1 by chance, and the maximum over lags would find one every time
    max_lag = min(max_lag, max(1, len(days) // 2))
    pairs = []
    langs = [lang for lang in TRACKED if lang in series and lang in by_lang]
    for i, a in enumerate(langs):
        for b in langs[i + 1 :]:
            found = best_lag(series[a], series[b], max_lag)
            if found is None:
                continue
            lag, r = found
            leader, follower = (a, b) if lag >= 0 else (b, a)
            pair = {"leader": leader, "follower": follower, "lag_days": abs(lag), "correlation": r,
                    "p_value": lag_p_value(series[a], series[b], max_lag, r)}  # fmt: skip
            pair["reading"] = reading(pair, by_lang)
            pairs.append(pair)
    return {"narrative": narrative, "first": first, "first_by_lang": by_lang, "pairs": pairs,
            "days": len(days), "max_lag": max_lag}  # fmt: skip


def _unknown_narrative(con, narrative: str) -> None:
    known = [r[0] for r in con.execute(
        "SELECT DISTINCT narrative_id FROM prevalence_daily ORDER BY 1").fetchall()]  # fmt: skip
    if narrative not in known:
        raise LookupError(
            f"no narrative {narrative!r} is tracked; known: {', '.join(known) or 'none'}"
        )
    raise LookupError(f"narrative {narrative!r} has no confirmed matches yet")
