"""Evidence: the passages behind the numbers, filtered, with CSV and Parquet export."""

import streamlit as st

from dashboards import common, data

snap, opts = common.page("Evidence")
f = common.filters(opts)
c1, c2, c3 = st.columns(3)
narratives = c1.multiselect("Narratives", list(opts["narratives"]), placeholder="all", key="narr")
outlets = c2.multiselect("Outlets", opts["outlets"], placeholder="all", key="outlets")
tiers = c3.multiselect("Tiers", list(data.TIERS), default=["confirmed"], placeholder="all",
                       key="tiers")  # fmt: skip
limit = st.number_input("At most this many rows", 1, 100_000, 5000, step=1000, key="limit")
st.caption(
    "One row per passage and narrative it was scored for: its score (the matcher's probability "
    "that the passage carries the narrative), the narrative's nearest "
    "exemplar, and the margin over the runner-up narrative. Tier: confirmed (at or above the "
    "threshold), suggested (just below, for review), rejected."
)
rows = common.evidence_rows(
    snap, f, narratives=narratives, outlets=outlets, tiers=tiers, limit=int(limit)
)
st.metric("Rows", len(rows))
e1, e2, _ = st.columns([1, 1, 4])
e1.download_button(
    "Download CSV", data.to_csv(rows), "evidence.csv", "text/csv", key="csv"
)  # fmt: skip
e2.download_button(
    "Download Parquet", data.to_parquet(rows), "evidence.parquet", "application/octet-stream",
    key="parquet",
)  # fmt: skip
common.show_passage(rows, "evidence")
