"""Provenance: which run, model and narrative-set version produced what is on screen, as
tables (a run's components, parameters and counts flattened to one row per setting)."""

import json

import pandas as pd
import streamlit as st

from dashboards import common

snap, opts = common.page("Provenance")
p = common.provenance(snap.database)


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """Missing values as blank cells, not the word "None"."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if col.isna().any() and not pd.api.types.is_numeric_dtype(col):
            out[c] = col.astype(object).where(col.notna(), "")
    return out


def flat(value, prefix: str = "") -> list[tuple[str, str]]:
    """A JSON document as (dotted key, value) rows."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in flat(v, f"{prefix}{k}.")]
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return [row for i, v in enumerate(value) for row in flat(v, f"{prefix}{i}.")]
    shown = (
        ""
        if value is None
        else ", ".join(map(str, value))
        if isinstance(value, list)
        else str(value)
    )
    return [(prefix.rstrip("."), shown)]


c1, c2, c3 = st.columns(3)
c1.metric("Published run", snap.run_id if snap.run_id is not None else "-")
c2.metric("Documents", p["documents"])
c3.metric("Passages", p["passages"])
st.text(
    "Snapshot published "
    + snap.published_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    + "\nfolder: "
    + str(snap.folder.resolve())
)
st.subheader("Live narrative sets and models")
st.caption("Prevalence reads only the matches of these (set version, model) pairs.")
st.dataframe(readable(p["live"]), hide_index=True, key="live")
st.subheader("Narratives of the live set versions")
st.dataframe(readable(p["narratives"]), hide_index=True, key="narratives",
             column_config={"description": st.column_config.TextColumn(width="large")})  # fmt: skip
st.subheader("Runs")
st.caption("Each run records its components, parameters, model id and set version: pick a run "
           "to read them.")  # fmt: skip
runs = p["runs"]
st.dataframe(readable(runs.drop(columns=["components", "parameters", "counts"])), hide_index=True,
             key="runs")  # fmt: skip
if len(runs):
    run = st.selectbox("Run", list(runs["run"]), key="run",
                       format_func=lambda r: f"run {r}: " + str(runs.set_index("run").loc[r, "kind"]))  # fmt: skip
    row = runs.set_index("run").loc[run]
    for part in ("components", "parameters", "counts"):
        st.text(f"{part} of run {run}")
        rows = flat(json.loads(row[part])) if row[part] else []
        st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]), hide_index=True,
                     key=f"run_{part}", column_config={"value": st.column_config.TextColumn(width="large")})  # fmt: skip
