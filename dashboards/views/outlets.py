"""Outlets: a narrative x outlet heat map of the share of each outlet's passages."""

import altair as alt
import streamlit as st

from dashboards import common

snap, opts = common.page("Outlets")
f = common.filters(opts)
st.caption(
    "Share = passages of the outlet confirmed for the narrative / all passages of the outlet "
    "(under the filters): who pushes what."
)
df = common.outlet_heat(snap.database, f)
if df.empty:
    st.info("No coverage matches these filters.")
    st.stop()
base = alt.Chart(df).encode(
    x=alt.X("narrative:N", title=None, axis=alt.Axis(labelAngle=-20)),
    # full outlet names: Vega cuts axis labels at 180 px by default; the tooltip has them too
    y=alt.Y("outlet:N", title=None, axis=alt.Axis(labelLimit=0)),
)
heat = base.mark_rect().encode(
    color=alt.Color("share:Q", scale=alt.Scale(scheme="oranges"), legend=alt.Legend(format=".0%")),
    tooltip=["outlet", "outlet_kind", "narrative", "passages", "outlet_passages",
             alt.Tooltip("share:Q", format=".1%")],
)  # fmt: skip
labels = base.mark_text(fontSize=11).encode(text=alt.Text("share:Q", format=".0%"))
st.altair_chart((heat + labels).properties(height=max(200, 28 * df["outlet"].nunique())),
                width="stretch")  # fmt: skip

table = df.pivot_table(index=["outlet", "outlet_kind"], columns="narrative", values="share")
table = table.reset_index()
st.dataframe(table, hide_index=True, key="heat",
             column_config={"outlet": st.column_config.TextColumn(width="large")})  # fmt: skip

st.subheader("Passages behind a cell")
d1, d2 = st.columns(2)
outlet = d1.selectbox("Outlet", sorted(df["outlet"].unique()), key="cell_outlet")
narrative = d2.selectbox("Narrative", sorted(df["narrative"].unique()), key="cell_narrative")
rows = common.evidence_rows(snap, f, narratives=[narrative], outlets=[outlet])
common.show_passage(rows, "outlets")
