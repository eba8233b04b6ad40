"""Competing explanations: each narrative's share of voice per language (or outlet kind)."""

import altair as alt
import streamlit as st

from dashboards import common
from narratives.core.langs import OTHER

snap, opts = common.page("Competing explanations")
f = common.filters(opts)
c1, c2 = st.columns(2)
by = c1.radio("Period", ["week", "day"], horizontal=True, key="by")
split = c2.radio(
    "Compare across",
    ["lang", "outlet_kind"],
    format_func={"lang": "languages", "outlet_kind": "outlet kinds"}.get,
    horizontal=True,
    key="split",
)
st.caption(
    "Share of voice = documents carrying a narrative / documents carrying any narrative of the "
    "set, in that period and group; each bar sums to 100%."
)
df = common.share_of_voice(snap.database, f, by, split)
if split == "lang":  # language not told is no language: no panel of its own (see Prevalence)
    df = df[df["group"] != OTHER]
if df.empty:
    st.info("No document carries a narrative under these filters.")
    st.stop()
chart = (
    alt.Chart(common.temporal(df))
    .mark_bar()
    .encode(
        x=alt.X(
            "yearmonthdate(period):O",
            title=by,
            axis=alt.Axis(format="%b %d", labelAngle=-45, labelOverlap=True),
        ),
        y=alt.Y(
            "documents:Q", stack="normalize", title="share of voice", axis=alt.Axis(format=".0%")
        ),
        color=alt.Color("narrative:N"),
        tooltip=[
            "group",
            "narrative",
            alt.Tooltip("period:T"),
            "documents",
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )  # fmt: skip
    .properties(width=170, height=260)
    .facet(column=alt.Column("group:N", title=None))
)
st.altair_chart(chart)

st.subheader("Over the selected range")
totals = common.share_of_voice_totals(snap.database, f, split)
totals = totals[totals["group"] != OTHER] if split == "lang" else totals
leaders = totals.loc[totals.groupby("group")["share"].idxmax()].reset_index(drop=True)
st.text("Dominant narrative per group:")
st.dataframe(
    leaders.rename(columns={"narrative": "dominant narrative"}),
    hide_index=True,
    key="leaders",
    column_config={"share": st.column_config.NumberColumn(format="percent")},
)
st.dataframe(
    totals,
    hide_index=True,
    key="totals",
    column_config={"share": st.column_config.NumberColumn(format="percent")},
)

st.subheader("Passages behind a bar")
d1, d2, d3 = st.columns(3)
group = d1.selectbox("Group", sorted(df["group"].unique()), key="bar_group")
at = df[df["group"] == group]
period = d2.selectbox("Period", sorted(at["period"].unique()), key="bar_period")
narrative = d3.selectbox(
    "Narrative", sorted(at[at["period"] == period]["narrative"].unique()), key="bar_narrative"
)
point = common.data.Filters(
    max(period, f.start),
    min(common.period_end(period, by), f.end),
    (group,) if split == "lang" else f.langs,
    (group,) if split == "outlet_kind" else f.kinds,
)
rows = common.evidence_rows(snap, point, narratives=[narrative])
common.show_passage(rows, "competing")
