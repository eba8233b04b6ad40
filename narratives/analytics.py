"""How narratives move: alerts on sudden rises, lead-lag across languages, amplification.

All three read the live matches (a document carries a narrative when one of its passages is
confirmed) or the stored clusters, with the documents of each day and language as denominator.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

import numpy as np

from narratives.store import transaction

log = logging.getLogger("narratives.analytics")

LANGS = ("en", "ru", "uk")


# --- alerts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertParams:
    baseline_days: int = 7  # trailing window the day is compared with
    min_baseline_documents: int = 5  # fewer documents in that window: no baseline, no alert
    min_matched: int = 3  # an alert needs at least this many documents that day
    min_ratio: float = 2.0  # and a share at least this many times the baseline
    alpha: float = 0.01  # and a one-sided binomial p-value below this

    @property
    def test(self) -> str:
        return (
            f"binomial-upper p<{self.alpha} vs trailing {self.baseline_days}d share "
            f"(add-half), ratio>={self.min_ratio}, n>={self.min_matched}"
        )


def _daily_counts(con, subject_kind: str) -> list[tuple]:
    """(subject id, day, lang, documents carrying it, documents that day in that language)."""
    if subject_kind == "narrative":
        hits = (
            "SELECT narrative_id AS subject, day, lang, count(DISTINCT document_id) AS matched "
            "FROM live_matches WHERE decision = 'confirmed' GROUP BY ALL"
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
    con, subject_kind: str = "narrative", params: AlertParams | None = None
) -> list[dict]:
    """Days whose share of documents carrying a narrative (or cluster) in a language rose well
    above the trailing baseline: the day's count is improbable under the baseline share
    (one-sided binomial test), and large in ratio and count, so one stray document on a
    quiet day does not alert."""
    if subject_kind not in ("narrative", "cluster"):
        raise ValueError("subject kind must be narrative or cluster")
    p = params or AlertParams()
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
    """P(X >= x) for X ~ Binomial(n, p), summed in log space (no SciPy needed for this one)."""
    if x <= 0:
        return 1.0
    if x > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(x, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


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


# --- lead-lag ----------------------------------------------------------------------------------
def first_appearances(con, narrative: str) -> list[tuple]:
    """(language, outlet kind, first time, outlet, documents) of a narrative's confirmed matches."""
    rows = con.execute(
        """SELECT lang, coalesce(outlet_kind, 'unknown') AS kind, min(published_at) AS first,
                  arg_min(outlet, published_at) AS outlet, count(DISTINCT document_id) AS docs
           FROM live_matches WHERE narrative_id = ? AND decision = 'confirmed'
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
                         WHERE narrative_id = ? AND decision = 'confirmed' GROUP BY ALL)
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
    langs = [lang for lang in LANGS if lang in series]
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


# --- amplification -----------------------------------------------------------------------------
def amplifiers(con, narrative: str | None = None) -> list[dict]:
    """Outlets ranked as originators (others copy or forward them) or amplifiers (they copy or
    forward others), from reprint edges and Telegram forwards. With a narrative, only edges
    whose source document carries it (a reprint's passages are not stored again: the narrative
    is the original's; a forward's is the forwarding post's own)."""
    carries = "SELECT DISTINCT document_id FROM live_matches WHERE decision = 'confirmed' AND narrative_id = $n"
    edges = con.execute(
        f"""WITH edges AS (
              SELECT o.outlet_id AS source, r2.outlet_id AS copier, r.delay_seconds, 'reprint' AS via,
                     r.original_id AS carrier
              FROM reprints r JOIN documents o ON o.id = r.original_id
              JOIN documents r2 ON r2.id = r.reprint_id
              UNION ALL
              SELECT coalesce(f.origin_outlet_id, f.origin_name), d.outlet_id,
                     epoch(d.published_at) - epoch(f.origin_date), 'forward', f.document_id
              FROM forwards f JOIN documents d ON d.id = f.document_id)
            SELECT source, copier, delay_seconds, via FROM edges
            WHERE source IS NOT NULL AND copier IS NOT NULL AND source <> copier
              AND ($n IS NULL OR carrier IN ({carries}))""",
        {"n": narrative},
    ).fetchall()
    names = dict(con.execute("SELECT id, name FROM outlets").fetchall())
    kinds = dict(con.execute("SELECT id, kind FROM outlets").fetchall())
    stats: dict[str, dict] = {}

    def entry(outlet):
        return stats.setdefault(outlet, {"outlet_id": outlet, "outlet": names.get(outlet, outlet),
                                         "kind": kinds.get(outlet), "originated": 0, "amplified": 0,
                                         "copied_by": set(), "delays": []})  # fmt: skip

    for source, copier, delay, _via in edges:
        entry(source)["originated"] += 1
        entry(source)["copied_by"].add(copier)
        entry(copier)["amplified"] += 1
        if delay is not None:
            entry(copier)["delays"].append(delay)
    out = []
    for s in stats.values():
        total = s["originated"] + s["amplified"]
        score = (s["originated"] - s["amplified"]) / total  # +1 pure originator, -1 pure amplifier
        out.append({
            "outlet": s["outlet"], "outlet_id": s["outlet_id"], "kind": s["kind"],
            "role": "originator" if score > 0 else "amplifier" if score < 0 else "both",
            "originated": s["originated"], "amplified": s["amplified"],
            "reach": len(s["copied_by"]), "score": score,
            "median_delay_h": float(np.median(s["delays"])) / 3600 if s["delays"] else None,
        })  # fmt: skip
    out.sort(key=lambda r: (-r["score"], -r["originated"], -r["amplified"], r["outlet"]))
    return out
