"""Provenance: which run, model and narrative-set version produced what is on screen."""

import streamlit as st

from dashboards import common

snap, opts = common.page("Provenance")
p = common.provenance(snap.database)
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
st.dataframe(p["live"], hide_index=True, key="live")
st.subheader("Narratives of the live set versions")
st.dataframe(p["narratives"], hide_index=True, key="narratives")
st.subheader("Runs")
st.caption("Each run records its components, parameters, model id and set version.")
st.dataframe(p["runs"], hide_index=True, key="runs")
