"""Contested: who asserts a narrative, who refutes it and who only reports it, over time and by
language. Prevalence counts only `asserts`; this page shows the rest of the argument."""

import altair as alt
import streamlit as st

from dashboards import common, data
from narratives.core.langs import OTHER

contested = st.cache_data(show_spinner=False, max_entries=64)(data.contested)

snap, opts = common.page("Contested")
f = common.filters(opts)
c1, c2 = st.columns(2)
by = c1.radio("Period", ["week", "day"], horizontal=True, key="by")
narrative = c2.selectbox("Narrative", list(opts["narratives"]), key="narrative",
                         format_func=lambda n: f"{n}: {opts['narratives'][n]}")  # fmt: skip
st.caption(
    "Documents with a passage confirmed for the narrative, in a document about the event, by "
    "the stance of that passage: asserts (carries it: what prevalence counts), refutes (denies "
    "or debunks it), reports (attributes it without endorsing it)."
)
df = contested(snap.database, f, by)
df = df[df["narrative"] == narrative]
if df.empty:
    st.info("No confirmed passage for this narrative under these filters.")
    st.stop()
langs = df[~df["lang"].isin(["all", OTHER])]  # 'other': language not told, no panel
chart = (
    alt.Chart(common.temporal(langs))
    .mark_bar()
    .encode(
        x=alt.X(
            "yearmonthdate(period):O",
            title=by,
            axis=alt.Axis(format="%b %d", labelAngle=-45, labelOverlap=True),
        ),
        y=alt.Y("documents:Q", title="documents"),
        color=alt.Color("stance:N", scale=alt.Scale(domain=["asserts", "refutes", "reports"])),
        column=alt.Column("lang:N", title=None),
        tooltip=["stance", "lang", alt.Tooltip("period:T"), "documents"],
    )  # fmt: skip
    .properties(width=260, height=220)
)
st.altair_chart(chart)
totals = df[df["lang"] == "all"].groupby("stance", as_index=False)["documents"].sum()
st.subheader("Over the selected range, all languages (a document once per period)")
st.dataframe(totals, hide_index=True, key="stance_totals")
with st.expander("Numbers behind the chart"):
    st.dataframe(df[df["lang"] != OTHER], hide_index=True, key="numbers")
