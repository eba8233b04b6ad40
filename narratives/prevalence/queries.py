"""The one prevalence query, and the other reads behind the CLI and the dashboards.

`prevalence_rows` is the only place prevalence is computed for a reader: the CLI's table, the
dashboards' charts and the documented views (`prevalence_daily`, `prevalence_daily_all`) agree
by construction. A document with passages in two languages counts in each of those languages,
and once in the totals (lang = 'all'), which come from the `_all` rows, never from a sum over
languages. Each function takes a read-only DuckDB connection; every value from the user (or the
UI) is a bound parameter, and an empty filter means "all".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from narratives.core.langs import ALL, TRACKED
from narratives.matching.queries import tracked_narratives
from narratives.prevalence.rollup import prevalence_source

PERIODS = {"day": "day", "week": "CAST(date_trunc('week', day) AS DATE)", "total": "NULL::DATE"}


@dataclass(frozen=True)
class Filters:
    """What a reader narrows prevalence to: a date range, languages, outlet kinds, narratives."""

    start: dt.date | None = None
    end: dt.date | None = None
    langs: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    narratives: tuple[str, ...] = ()

    def params(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "langs": list(self.langs) or None,
            "kinds": list(self.kinds) or None,
            "narratives": list(self.narratives) or None,
        }


# the filters every prevalence read shares; `IN list` through list_contains on bound lists
WHERE = """
    ($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)
    AND ($kinds IS NULL OR list_contains($kinds, outlet_kind))
    AND ($narratives IS NULL OR list_contains($narratives, narrative_id))
"""


def _sql(con, sql: str, params: dict):
    """The query's result as an Arrow table, binding only the parameters it names (DuckDB
    refuses a named parameter the query does not use)."""
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    return con.sql(sql, params=used).to_arrow_table()


OF = {"event": "event", "all": "total"}  # denominators: the event's coverage, or all coverage


def prevalence_rows(con, f: Filters = Filters(), by: str = "week", split_lang: bool = True,
                    of: str = "event"):  # fmt: skip
    """Documents (and passages) carrying each narrative per period (confirmed, in the event's
    scope, asserting it), with the denominators and the document share's 95% Wilson interval,
    as an Arrow table with the columns period, narrative_id, lang, matched_documents,
    total_documents, matched_passages, total_passages, share, share_lo, share_hi.

    of: the denominator: `event`, the documents about the set's event (the default: what share
    of the event's coverage carries it), or `all`, every document (attention).

    split_lang: one row per language (those of `f.langs`, else every language), where a
    document with passages in two languages counts in both; otherwise one row per period with
    lang = 'all', where every document counts once. A language filter that leaves out some
    languages is applied to the totals by summing the chosen languages' rows."""
    if by not in PERIODS:
        raise ValueError(f"period must be day, week or total, not {by!r}")
    if of not in OF:
        raise ValueError(f"--of must be event or all, not {of!r}")
    d = OF[of]
    params = f.params() | {"label": "+".join(sorted(f.langs))}
    if split_lang or f.langs:
        langs = "lang <> 'all' AND ($langs IS NULL OR list_contains($langs, lang))"
        lang_col = "lang" if split_lang else "$label"
    else:
        langs, lang_col = "lang = 'all'", "lang"
    sql = f"""
        SELECT {PERIODS[by]} AS period, narrative_id, {lang_col} AS lang,
               sum(matched_documents)::BIGINT AS matched_documents,
               sum({d}_documents)::BIGINT AS total_documents,
               sum(matched_passages)::BIGINT AS matched_passages,
               sum({d}_passages)::BIGINT AS total_passages,
               sum(matched_documents) / nullif(sum({d}_documents), 0) AS share,
               wilson_lo(sum(matched_documents), sum({d}_documents)) AS share_lo,
               wilson_hi(sum(matched_documents), sum({d}_documents)) AS share_hi
        FROM {prevalence_source(con)} WHERE {langs} AND {WHERE}
        GROUP BY ALL ORDER BY period, narrative_id, lang"""
    return _sql(con, sql, params)


def prevalence(con, by: str = "week", narrative: str | None = None, lang: str | None = None,
               outlet_kind: str | None = None, of: str = "event") -> tuple[list[str], list[tuple]]:  # fmt: skip
    """The CLI's table: per period and narrative, the documents carrying it in each tracked
    language (docs), their share of that period's documents in the language (pct: of those
    about the event, or of all with of="all") and its 95% Wilson interval (ci95, percent), then
    the same across all languages (all_*), where a document counts once."""
    if lang is not None and lang not in TRACKED:
        raise ValueError(f"--lang must be one of {', '.join(TRACKED)}, not {lang!r}")
    f = Filters(kinds=(outlet_kind,) if outlet_kind else (),
                narratives=(narrative,) if narrative else ())  # fmt: skip
    langs = [lang] if lang else list(TRACKED)
    cells: dict[tuple, dict[str, dict]] = {}
    for split in (True, False):
        for r in prevalence_rows(con, f, by, split_lang=split, of=of).to_pylist():
            key = ("all" if by == "total" else r["period"], r["narrative_id"])
            cells.setdefault(key, {})[r["lang"]] = r
    if narrative and not cells:
        known = tracked_narratives(con)
        raise LookupError(
            f"no narrative {narrative!r} is tracked; known: {', '.join(known) or 'none'}"
        )
    headers = ["period", "narrative_id"]
    for code in [*langs, ALL]:
        headers += [f"{code}_docs", f"{code}_pct", f"{code}_ci95"]
    rows = []
    for (period, nid), by_lang in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        row = [period, nid]
        for code in [*langs, ALL]:
            row += _cells(by_lang.get(code))
        rows.append(tuple(row))
    return headers, rows


def _cells(r: dict | None) -> list:
    """docs, pct, ci95 of one language's row; a language without coverage: 0 and blanks."""
    if r is None or not r["total_documents"]:
        return [0, None, None]
    return [r["matched_documents"], round(100 * r["share"], 1),
            f"{100 * r['share_lo']:.1f}-{100 * r['share_hi']:.1f}"]  # fmt: skip


def share_of_voice(con, f: Filters, by: str = "week", split: str = "lang"):
    """Documents carrying each narrative per period and group (language, or outlet kind with
    documents counted once across languages): the competing explanations side by side."""
    if split not in ("lang", "outlet_kind"):
        raise ValueError(f"split must be lang or outlet_kind, not {split!r}")
    if split == "lang" or f.langs:
        langs = "lang <> 'all' AND ($langs IS NULL OR list_contains($langs, lang))"
    else:
        langs = "lang = 'all'"
    group = "lang" if split == "lang" else "coalesce(outlet_kind, 'unknown')"
    return _sql(
        con,
        f"""SELECT {PERIODS[by]} AS period, {group} AS "group",
                   narrative_id AS narrative, sum(matched_documents)::BIGINT AS documents
            FROM {prevalence_source(con)} WHERE {langs} AND {WHERE}
            GROUP BY ALL HAVING sum(matched_documents) > 0 ORDER BY ALL""",
        f.params(),
    )


def outlet_heat(con, f: Filters):
    """Narrative x outlet: the share of the outlet's passages that carry the narrative (a
    passage has one language, so the per-language rows add up)."""
    return _sql(
        con,
        f"""SELECT coalesce(outlet, 'unknown') AS outlet, outlet_kind, narrative_id AS narrative,
                   sum(matched_passages)::BIGINT AS passages,
                   sum(total_passages)::BIGINT AS outlet_passages
            FROM {prevalence_source(con)}
            WHERE lang <> 'all' AND ($langs IS NULL OR list_contains($langs, lang)) AND {WHERE}
            GROUP BY ALL ORDER BY outlet, narrative""",
        f.params(),
    )


def options(con) -> dict:
    """What readers can filter by: the date range with coverage, languages, outlet kinds,
    outlets, the live narratives with their labels and the live set's event date."""
    first, last = con.execute("SELECT min(day), max(day) FROM passage_facts").fetchall()[0]

    def column(sql: str) -> list:
        return [r[0] for r in con.execute(sql).fetchall()]

    narratives = con.execute(
        "SELECT n.narrative_id, n.label FROM narratives n JOIN matchings l "
        "ON l.set_id = n.set_id AND l.set_version = n.set_version ORDER BY 1"
    ).fetchall()
    event = column(
        "SELECT s.event_date FROM narrative_sets s JOIN matchings l "
        "ON l.set_id = s.set_id AND l.set_version = s.version ORDER BY l.updated_at DESC"
    )
    return {
        "first_day": first,
        "last_day": last,
        "langs": column("SELECT DISTINCT lang FROM passage_facts ORDER BY 1"),
        "kinds": column(
            "SELECT DISTINCT outlet_kind FROM passage_facts WHERE outlet_kind IS NOT NULL ORDER BY 1"
        ),
        "outlets": column(
            "SELECT DISTINCT outlet FROM passage_facts WHERE outlet IS NOT NULL ORDER BY 1"
        ),
        "narratives": dict(narratives),
        "event_date": event[0] if event else None,
    }


def coverage(con, f: Filters = Filters(), by: str = "week", set_id: str | None = None):
    """The event's own volume over time: per period and language (and 'all', a document once),
    all documents and those about the live set's event, with the event's share."""
    sql = f"""
        WITH c AS (
            SELECT day, lang, outlet_kind, total_documents FROM coverage_daily
            UNION ALL SELECT day, 'all', outlet_kind, total_documents FROM coverage_daily_all),
        e AS (
            SELECT day, lang, outlet_kind, event_documents FROM event_coverage_daily
            WHERE set_id = coalesce($set, (SELECT set_id FROM matchings ORDER BY updated_at DESC LIMIT 1))
            UNION ALL SELECT day, 'all', outlet_kind, event_documents FROM event_coverage_daily_all
            WHERE set_id = coalesce($set, (SELECT set_id FROM matchings ORDER BY updated_at DESC LIMIT 1))),
        c2 AS (SELECT {PERIODS[by]} AS period, lang, sum(total_documents)::BIGINT AS documents
               FROM c WHERE ($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)
                 AND ($kinds IS NULL OR list_contains($kinds, outlet_kind)) GROUP BY ALL),
        e2 AS (SELECT {PERIODS[by]} AS period, lang, sum(event_documents)::BIGINT AS event_documents
               FROM e WHERE ($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)
                 AND ($kinds IS NULL OR list_contains($kinds, outlet_kind)) GROUP BY ALL)
        SELECT c2.period, c2.lang, c2.documents, coalesce(e2.event_documents, 0) AS event_documents,
               coalesce(e2.event_documents, 0) / c2.documents AS event_share
        FROM c2 LEFT JOIN e2 ON e2.period IS NOT DISTINCT FROM c2.period AND e2.lang = c2.lang
        WHERE $langs IS NULL OR list_contains($langs, c2.lang) OR c2.lang = 'all'
        ORDER BY c2.period, list_position(['en', 'ru', 'uk', 'other', 'all'], c2.lang), c2.lang"""
    return _sql(con, sql, f.params() | {"set": set_id})


def contested(con, f: Filters = Filters(), by: str = "week"):
    """Who asserts, who refutes, who reports: documents with a confirmed, in-scope passage for
    each narrative per period and stance, by language and across languages (a document once)."""
    sql = f"""
        SELECT {PERIODS[by]} AS period, narrative_id, stance, lang,
               count(DISTINCT document_id) AS documents
        FROM live_matches WHERE decision = 'confirmed' AND {WHERE}
          AND ($langs IS NULL OR list_contains($langs, lang))
        GROUP BY GROUPING SETS ((period, narrative_id, stance, lang), (period, narrative_id, stance))
        ORDER BY period, narrative_id, list_position(['asserts', 'refutes', 'reports'], stance),
                 lang NULLS LAST"""
    return _sql(con, sql, f.params())


def passages_in(con, f: Filters, lang: str) -> int:
    """How many passages in one language (e.g. 'other': could not be told) are under the
    filters' date range and outlet kinds."""
    return con.execute(
        """SELECT count(*) FROM passage_facts WHERE lang = $lang
           AND ($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)
           AND ($kinds IS NULL OR list_contains($kinds, outlet_kind))""",
        {"lang": lang, "start": f.start, "end": f.end, "kinds": list(f.kinds) or None},
    ).fetchall()[0][0]
