"""What every page shares: settings, the current snapshot, the sidebar filters and provenance.

This module is the dashboard's edge: settings come from NARRATIVES_* variables, which
`narratives dashboard` sets from its own flags. Text that came in with the coverage (passages,
titles, outlet names, URLs) is untrusted: it is shown only through st.dataframe, st.text and
st.code, which render it as plain text, never through markdown or HTML.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards import data
from narratives.core.langs import OTHER
from narratives.core.settings import Settings
from narratives.core.store import DatabaseMissing, DatabaseOutdated, DatabaseUnreadable
from narratives.prevalence import snapshots

# cached per snapshot: a new snapshot is a new database path, hence new cache entries
options = st.cache_data(show_spinner=False, max_entries=16)(data.options)
prevalence = st.cache_data(show_spinner=False, max_entries=64)(data.prevalence)
share_of_voice = st.cache_data(show_spinner=False, max_entries=64)(data.share_of_voice)
share_of_voice_totals = st.cache_data(show_spinner=False, max_entries=64)(
    data.share_of_voice_totals
)
outlet_heat = st.cache_data(show_spinner=False, max_entries=64)(data.outlet_heat)
evidence = st.cache_data(show_spinner=False, max_entries=64)(data.evidence)
provenance = st.cache_data(show_spinner=False, max_entries=16)(data.provenance)
untold = st.cache_data(show_spinner=False, max_entries=64)(data.untold)

# how a passage whose language could not be told (langs.OTHER) is labelled on screen: not a
# language, so not named like one
UNTOLD = "undetected"

# what a score means where it is shown: the matcher's is a probability, search's a cosine
SCORE_HELP = (
    "the matcher's probability that the passage carries the narrative (calibrated on the "
    "narrative's exemplars; the tier compares it with the narrative's threshold)"
)


def settings() -> Settings:
    return Settings.from_env()


def stop_with(message: str) -> None:
    """One line in the page, nothing else: no traceback, no server path but the file named."""
    st.error(message)
    st.stop()


def snapshot() -> snapshots.Snapshot:
    """The snapshot published last; the page stops with a clear message when there is none."""
    try:
        snap = snapshots.current(settings().snapshots_dir)
    except snapshots.SnapshotDamaged as exc:
        stop_with(str(exc))
    if snap is None:
        st.error(
            f"No published snapshot in {settings().snapshots_dir}. Run the pipeline "
            "(`narratives run`, or `make demo`), which publishes one after each run."
        )
        st.stop()
    return snap


def page(title: str) -> tuple[snapshots.Snapshot, dict]:
    """Title, the snapshot and its filter options, and the provenance line in the sidebar."""
    st.set_page_config(page_title=f"{title} · narrative-tracker", layout="wide")
    st.header(title)
    snap = snapshot()
    try:
        opts = options(snap.database)
    except (DatabaseUnreadable, DatabaseMissing, DatabaseOutdated) as exc:
        reason = getattr(exc, "reason", None) or "it cannot be read"
        stop_with(f"The published snapshot {snap.database} cannot be opened ({reason}); "
                  "run `narratives run` to publish a new one.")  # fmt: skip
    side = st.sidebar
    side.subheader("Data")
    published = snap.published_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    live = provenance(snap.database)["live"]
    lines = [f"snapshot published {published}",
             f"run {snap.run_id if snap.run_id is not None else '-'}"]  # fmt: skip
    if len(live):
        row = live.iloc[0]
        lines += [f"set {row.set_id}@{row.set_version}", f"model {row.model_id}"]
    side.text("\n".join(lines))
    return snap, opts


def filters(opts: dict, key: str = "") -> data.Filters:
    """Date range, languages and outlet kinds, in the sidebar, shared by the chart pages."""
    side = st.sidebar
    side.subheader("Filters")
    first, last = opts["first_day"], opts["last_day"]
    if first is None:
        st.warning("The snapshot holds no dated coverage yet.")
        st.stop()
    event = opts["event_date"]
    if event is not None and first - dt.timedelta(days=31) <= event < first:
        first = event  # coverage that starts just after the event still shows its marker
    picked = side.date_input(
        "Date range", value=(first, last), min_value=first, max_value=last, key=f"dates{key}"
    )
    start, end = (picked[0], picked[-1]) if isinstance(picked, list | tuple) else (picked, picked)
    # 'other' (language not told) is not a language to pick: the pages explain that bucket
    langs = side.multiselect(
        "Languages", [lang for lang in opts["langs"] if lang != OTHER], default=[],
        placeholder="all", key=f"langs{key}",
    )  # fmt: skip
    kinds = side.multiselect(
        "Outlet kinds", opts["kinds"], default=[], placeholder="all", key=f"kinds{key}"
    )
    return data.Filters(start, end, tuple(langs), tuple(kinds))


def period_end(period: dt.date, by: str) -> dt.date:
    return period if by == "day" else period + dt.timedelta(days=6)


def temporal(df: pd.DataFrame, column: str = "period") -> pd.DataFrame:
    out = df.copy()
    out[column] = pd.to_datetime(out[column])
    return out


def evidence_rows(snap, f: data.Filters, **kwargs) -> pd.DataFrame:
    """The passages behind a chart point, shown as plain text with the evidence columns."""
    rows = evidence(snap.database, f, **kwargs)
    if "lang" in rows:
        rows = rows.assign(lang=rows["lang"].replace(OTHER, UNTOLD))
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "score": st.column_config.NumberColumn(
                "score (probability)", format="%.3f", help=SCORE_HELP
            ),
            "margin": st.column_config.NumberColumn(
                format="%.3f", help="the score's lead over the runner-up narrative's"
            ),
            "outlet": st.column_config.TextColumn(width="medium"),
        },
    )
    return rows


def show_passage(rows: pd.DataFrame, key: str) -> None:
    """One row's passage and nearest exemplar in full, as plain text."""
    if rows.empty:
        return
    i = st.selectbox(
        "Read a passage in full",
        range(len(rows)),
        format_func=lambda i: (
            f"row {i + 1}: {rows.iloc[i]['narrative']}, score {rows.iloc[i]['score']:.3f}"
        ),
        key=f"read{key}",
    )
    row = rows.iloc[i]
    st.text(row["passage"])
    st.text("nearest exemplar (" + str(row["exemplar_lang"]) + "): " + str(row["nearest_exemplar"]))
    st.text("source: " + str(row["url"] or ""))


def save_draft(make, failed: str):
    """Run `make` (builds and saves a draft narrative set, returns its path) and say how it went:
    a definition error as one line after `failed`, else where the draft was saved. The path, or
    None when nothing was saved."""
    from narratives.matching.sets import DefinitionError

    try:
        path = make()
    except DefinitionError as exc:
        st.error(failed)
        st.text(f"{exc.where}: {exc.problem}")
        return None
    st.success("Draft saved.")
    st.code(str(path.resolve()), language=None)
    return path
