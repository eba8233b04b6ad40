"""The dashboard's data: the stage queries over a published snapshot (narratives.prevalence
.snapshots), as DataFrames.

Each function opens a short read-only connection to the snapshot it is given and calls one
stage query: prevalence comes from `narratives.prevalence.queries`, the same query the CLI and
the documented SQL views share, so the numbers on screen are the CLI's. Nothing here imports
Streamlit, so the numbers can be checked without a browser.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from narratives.analytics import queries as analytics_queries
from narratives.core.langs import ALL, OTHER
from narratives.core.store import reader
from narratives.discovery import queries as discovery_queries
from narratives.labels import queries as label_queries
from narratives.labels import queue as review
from narratives.matching import queries as matching
from narratives.matching.queries import TIERS
from narratives.prevalence import corrected as corrected_queries
from narratives.prevalence import queries as prevalence_queries
from narratives.prevalence.queries import Filters

__all__ = ["TIERS", "Filters"]


def options(db: Path) -> dict:
    """What the filters offer: the date range with coverage, languages, outlet kinds, outlets,
    narratives of the live set and its event date."""
    with reader(db) as con:
        return prevalence_queries.options(con)


def prevalence(db: Path, f: Filters, by: str = "week", split_lang: bool = True) -> pd.DataFrame:
    """Documents carrying each narrative per period (and language), with the denominator: all
    documents of that period (and language) under the same filters; across languages a
    document counts once."""
    with reader(db) as con:
        df = prevalence_queries.prevalence_rows(con, f, by, split_lang).to_pandas()
    df = df.rename(columns={"narrative_id": "narrative", "matched_documents": "documents",
                            "total_documents": "all_documents", "matched_passages": "passages",
                            "total_passages": "all_passages"})  # fmt: skip
    if not split_lang:
        df["lang"] = "all"
    return df[["period", "narrative", "lang", "documents", "all_documents", "passages",
               "all_passages", "share", "share_lo", "share_hi"]]  # fmt: skip


def corrected(db: Path, f: Filters, by: str = "total", split_lang: bool = False) -> pd.DataFrame:
    """Per period (and language) and narrative: the raw share of the event's coverage, the
    share corrected for the tracker's error measured by the analysts' audit, its 95% interval,
    the audit labels behind it and a note (which rates, or why there is no corrected share)."""
    with reader(db) as con:
        rows = corrected_queries.corrected_rows(con, f, by, split_lang)
    df = pd.DataFrame(rows, columns=["period", "narrative_id", "lang", "matched_documents",
                                     "total_documents", "share", "corrected", "corrected_lo",
                                     "corrected_hi", "audit_labels", "correction"])  # fmt: skip
    return df.rename(columns={"narrative_id": "narrative", "matched_documents": "documents",
                              "total_documents": "all_documents"})  # fmt: skip


def share_of_voice(db: Path, f: Filters, by: str = "week", split: str = "lang") -> pd.DataFrame:
    """Each narrative's share of all narrative-carrying documents, per period and language (or
    outlet kind): the competing explanations side by side. Shares of a group sum to 1."""
    with reader(db) as con:
        df = prevalence_queries.share_of_voice(con, f, by, split).to_pandas()
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
    with reader(db) as con:
        df = prevalence_queries.outlet_heat(con, f).to_pandas()
    df["share"] = df["passages"] / df["outlet_passages"].where(df["outlet_passages"] > 0)
    return df


def evidence(db: Path, f: Filters, narratives: list[str] | None = None,
             outlets: list[str] | None = None, tiers: list[str] | None = ("confirmed",),
             limit: int = 5000) -> pd.DataFrame:  # fmt: skip
    """The passages behind the numbers: one row per passage and narrative it was scored for,
    with the nearest exemplar and the margin over the runner-up narrative."""
    with reader(db) as con:
        return matching.evidence(con, f, narratives, outlets, tiers, limit).to_pandas()


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
    matched them, its components and parameters, and the rule that decided each narrative."""
    with reader(db) as con:
        out = matching.provenance(con)
    return {k: v.to_pandas() if hasattr(v, "to_pandas") else v for k, v in out.items()}


def contested(db: Path, f: Filters, by: str = "week") -> pd.DataFrame:
    """Documents with a confirmed, in-scope passage per period, narrative, stance and language
    (lang "all": across languages, a document once): who asserts, refutes or reports it."""
    with reader(db) as con:
        df = prevalence_queries.contested(con, f, by).to_pandas()
    df["lang"] = df["lang"].fillna("all")
    return df.rename(columns={"narrative_id": "narrative"})


def stored_labels(db: Path) -> list[dict]:
    """The labels stored in a snapshot, oldest first (the review queue leaves their items out)."""
    with reader(db) as con:
        return label_queries.all_labels(con)


def review_queue(db: Path, stream: str, done_labels: list[dict], narrative: str | None = None,
                 n: int = 20) -> list[dict]:  # fmt: skip
    """The next `n` items of a review stream in a snapshot, leaving out those in `done_labels`
    (the snapshot's stored labels and the journal's)."""
    with reader(db) as con:
        return review.next_items(con, stream, done_labels, narrative, n)


def prevalence_bands(
    db: Path, f: Filters, by: str = "week", split_lang: bool = True
) -> pd.DataFrame:
    """`prevalence` with, per row, the share the chart draws and its 95% band: the corrected
    share and interval where the narrative's audit suffices (`corrected` is set), else the raw
    share with its Wilson interval. `drawn` says which."""
    with reader(db) as con:
        rows = corrected_queries.corrected_rows(con, f, by, split_lang)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.rename(columns={"narrative_id": "narrative", "matched_documents": "documents",
                            "total_documents": "all_documents"})  # fmt: skip
    fixed = df["corrected"].notna()
    df["drawn"] = fixed.map({True: "corrected", False: "raw"})
    df["value"] = df["corrected"].where(fixed, df["share"])
    df["lo"] = df["corrected_lo"].where(fixed, df["share_lo"])
    df["hi"] = df["corrected_hi"].where(fixed, df["share_hi"])
    if not split_lang:
        df["lang"] = ALL
    return df


def untold(db: Path, f: Filters) -> int:
    """Passages under the filters whose language could not be told (lang 'other')."""
    with reader(db) as con:
        return prevalence_queries.passages_in(con, f, OTHER)


def clusters(db: Path, scope: str = "all") -> pd.DataFrame:
    """The latest clustering's clusters (emerging first), as `narratives clusters` lists them."""
    cols = ["id", "status", "passages", "documents", "en", "ru", "uk", "coherence", "nearest",
            "similarity", "confirmed", "first", "last", "terms"]  # fmt: skip
    with reader(db) as con:
        try:
            _, rows = discovery_queries.list_clusters(con, scope=scope)
        except LookupError:
            return pd.DataFrame(columns=cols)
    return pd.DataFrame(rows, columns=cols)


def cluster(db: Path, cluster_id: int) -> dict:
    """One cluster: its key terms per language, representative passages and sizes."""
    with reader(db) as con:
        return discovery_queries.cluster_detail(con, cluster_id)


def alerts(db: Path) -> pd.DataFrame:
    with reader(db) as con:
        rows = analytics_queries.list_alerts(con)
    return pd.DataFrame(rows, columns=["kind", "subject", "day", "lang", "documents", "of",
                                       "share", "baseline", "p_value", "test"])  # fmt: skip


def lead_lag(db: Path, narrative: str, max_lag: int = 7) -> dict:
    with reader(db) as con:
        return analytics_queries.lead_lag(con, narrative, max_lag)


def amplifiers(db: Path, narrative: str | None = None) -> pd.DataFrame:
    with reader(db) as con:
        return pd.DataFrame(analytics_queries.amplifiers(con, narrative))


def reprint_chains(db: Path, narrative: str | None = None) -> pd.DataFrame:
    with reader(db) as con:
        rows = analytics_queries.reprint_chains(con, narrative)
    return pd.DataFrame(rows, columns=["original outlet", "original day", "title", "copied by",
                                       "copy day", "kind", "similarity", "delay_h"])  # fmt: skip


def confirmed_for(db: Path, passage_ids: list[int]) -> dict[int, str]:
    """Which live narratives the tracker confirmed each passage for (with the stance)."""
    with reader(db) as con:
        return matching.confirmed_for(con, passage_ids)
