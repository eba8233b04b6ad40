"""The dashboard's queries: small functions over a published snapshot (narratives.snapshots).

Each opens a short read-only connection to the snapshot it is given and returns a DataFrame.
Every value chosen in the UI is a bound parameter; an empty filter (None or an empty list) means
"all". Nothing here imports Streamlit, so the numbers can be checked without a browser.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from narratives.store import fetch_arrow, reader

TIERS = ("confirmed", "suggested", "rejected")

# the filters every chart shares; `lang IN list` and friends through list_contains on bound lists
_FILTERS = """
    day BETWEEN $start AND $end
    AND ($langs IS NULL OR list_contains($langs, lang))
    AND ($kinds IS NULL OR list_contains($kinds, outlet_kind))
"""


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    langs: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def params(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "langs": list(self.langs) or None,
            "kinds": list(self.kinds) or None,
        }


def _frame(db: Path, sql: str, params: dict | list | None = None) -> pd.DataFrame:
    with reader(db) as con:
        return fetch_arrow(con, sql, params).to_pandas()


def options(db: Path) -> dict:
    """What the filters offer: the date range with coverage, languages, outlet kinds, outlets,
    narratives of the live set and its event date."""
    with reader(db) as con:
        first, last = con.execute("SELECT min(day), max(day) FROM passage_facts").fetchall()[0]
        langs = [
            r[0]
            for r in con.execute("SELECT DISTINCT lang FROM passage_facts ORDER BY 1").fetchall()
        ]
        kinds = [r[0] for r in con.execute(
            "SELECT DISTINCT outlet_kind FROM passage_facts WHERE outlet_kind IS NOT NULL ORDER BY 1"
        ).fetchall()]  # fmt: skip
        outlets = [r[0] for r in con.execute(
            "SELECT DISTINCT outlet FROM passage_facts WHERE outlet IS NOT NULL ORDER BY 1"
        ).fetchall()]  # fmt: skip
        narratives = con.execute(
            "SELECT n.narrative_id, n.label FROM narratives n JOIN matchings l "
            "ON l.set_id = n.set_id AND l.set_version = n.set_version ORDER BY 1"
        ).fetchall()
        event = con.execute(
            "SELECT s.event_date FROM narrative_sets s JOIN matchings l "
            "ON l.set_id = s.set_id AND l.set_version = s.version ORDER BY l.updated_at DESC"
        ).fetchall()
    return {
        "first_day": first,
        "last_day": last,
        "langs": langs,
        "kinds": kinds,
        "outlets": outlets,
        "narratives": dict(narratives),
        "event_date": event[0][0] if event else None,
    }


def _period(by: str) -> str:
    if by not in ("day", "week"):
        raise ValueError(f"period must be day or week, not {by!r}")
    return "day" if by == "day" else "CAST(date_trunc('week', day) AS DATE)"


def prevalence(db: Path, f: Filters, by: str = "week", split_lang: bool = True) -> pd.DataFrame:
    """Documents carrying each narrative per period (and language), with the denominator: all
    documents of that period (and language) under the same filters."""
    lang = "lang" if split_lang else "'all'"
    sql = f"""
        SELECT {_period(by)} AS period, narrative_id AS narrative, {lang} AS lang,
               sum(matched_documents)::BIGINT AS documents, sum(total_documents)::BIGINT AS all_documents,
               sum(matched_passages)::BIGINT AS passages, sum(total_passages)::BIGINT AS all_passages
        FROM prevalence_daily WHERE {_FILTERS}
        GROUP BY ALL ORDER BY period, narrative, lang"""
    df = _frame(db, sql, f.params())
    df["share"] = df["documents"] / df["all_documents"].where(df["all_documents"] > 0)
    return df


def share_of_voice(db: Path, f: Filters, by: str = "week", split: str = "lang") -> pd.DataFrame:
    """Each narrative's share of all narrative-carrying documents, per period and language (or
    outlet kind): the competing explanations side by side. Shares of a group sum to 1."""
    if split not in ("lang", "outlet_kind"):
        raise ValueError(f"split must be lang or outlet_kind, not {split!r}")
    sql = f"""
        SELECT {_period(by)} AS period, coalesce({split}, 'unknown') AS "group",
               narrative_id AS narrative, sum(matched_documents)::BIGINT AS documents
        FROM prevalence_daily WHERE {_FILTERS}
        GROUP BY ALL HAVING sum(matched_documents) > 0 ORDER BY ALL"""
    df = _frame(db, sql, f.params())
    df["share"] = df["documents"] / df.groupby(["period", "group"])["documents"].transform("sum")
    return df


def share_of_voice_totals(db: Path, f: Filters, split: str = "lang") -> pd.DataFrame:
    """The same over the whole date range: one row per group and narrative."""
    df = share_of_voice(db, f, "week", split)
    out = df.groupby(["group", "narrative"], as_index=False)["documents"].sum()
    out["share"] = out["documents"] / out.groupby("group")["documents"].transform("sum")
    return out.sort_values(["group", "share"], ascending=[True, False], ignore_index=True)


def outlet_heat(db: Path, f: Filters) -> pd.DataFrame:
    """Narrative x outlet: the share of the outlet's passages that carry the narrative."""
    sql = f"""
        SELECT coalesce(outlet, 'unknown') AS outlet, outlet_kind, narrative_id AS narrative,
               sum(matched_passages)::BIGINT AS passages, sum(total_passages)::BIGINT AS outlet_passages
        FROM prevalence_daily WHERE {_FILTERS}
        GROUP BY ALL ORDER BY outlet, narrative"""
    df = _frame(db, sql, f.params())
    df["share"] = df["passages"] / df["outlet_passages"].where(df["outlet_passages"] > 0)
    return df


def evidence(
    db: Path,
    f: Filters,
    narratives: list[str] | None = None,
    outlets: list[str] | None = None,
    tiers: list[str] | None = ("confirmed",),
    limit: int = 5000,
) -> pd.DataFrame:
    """The passages behind the numbers: one row per passage and narrative it was scored for,
    with the nearest exemplar and the margin over the runner-up narrative."""
    sql = f"""
        SELECT narrative_id AS narrative, decision AS tier, score, margin, lang, outlet,
               outlet_kind, day, passage_text AS passage, url, title,
               exemplar_text AS nearest_exemplar, exemplar_lang, rank, passage_id, document_id
        FROM live_matches
        WHERE {_FILTERS}
          AND ($narratives IS NULL OR list_contains($narratives, narrative_id))
          AND ($outlets IS NULL OR list_contains($outlets, outlet))
          AND ($tiers IS NULL OR list_contains($tiers, decision))
        ORDER BY score DESC, passage_id, narrative_id LIMIT $limit"""
    params = f.params() | {
        "narratives": list(narratives or []) or None,
        "outlets": list(outlets or []) or None,
        "tiers": list(tiers or []) or None,
        "limit": int(limit),
    }
    return _frame(db, sql, params)


def to_csv(rows: pd.DataFrame) -> bytes:
    """Exactly the rows on screen, as CSV (UTF-8)."""
    return rows.to_csv(index=False).encode("utf-8")


def to_parquet(rows: pd.DataFrame) -> bytes:
    """Exactly the rows on screen, as Parquet."""
    out = io.BytesIO()
    rows.to_parquet(out, index=False)
    return out.getvalue()


def provenance(db: Path) -> dict:
    """What produced the numbers on screen: the live set version and model, the run that
    matched them, its components and parameters, and the narratives' definitions."""
    with reader(db) as con:
        live = fetch_arrow(
            con,
            """SELECT l.set_id, l.set_version, l.model_id, l.run_id, l.updated_at AS matched_at,
                      s.title, s.event_date, s.source_path
               FROM matchings l LEFT JOIN narrative_sets s
                 ON s.set_id = l.set_id AND s.version = l.set_version ORDER BY l.updated_at DESC""",
        ).to_pandas()
        runs = fetch_arrow(
            con,
            """SELECT id AS run, kind, status, started_at, finished_at, model_id, set_id,
                      set_version, CAST(components AS VARCHAR) AS components,
                      CAST(parameters AS VARCHAR) AS parameters, CAST(counts AS VARCHAR) AS counts
               FROM runs ORDER BY id DESC LIMIT 50""",
        ).to_pandas()
        narratives = fetch_arrow(
            con,
            """SELECT n.set_id, n.narrative_id AS narrative, n.label, n.threshold, n.version,
                      n.description
               FROM narratives n JOIN matchings l
                 ON l.set_id = n.set_id AND l.set_version = n.set_version ORDER BY 1, 2""",
        ).to_pandas()
        totals = con.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages)"
        ).fetchall()[0]
    return {
        "live": live,
        "runs": runs,
        "narratives": narratives,
        "documents": totals[0],
        "passages": totals[1],
    }
