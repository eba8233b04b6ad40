"""Prevalence over time: small multiples per narrative, counts or share of the event's
coverage, with 95% bands (corrected where the audit allows, else raw with Wilson intervals)."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import charts, common
from dashboards.charts import MIN_N
from narratives.core.langs import OTHER

corrected = st.cache_data(show_spinner=False, max_entries=64)(common.data.corrected)
bands = st.cache_data(show_spinner=False, max_entries=64)(common.data.prevalence_bands)

snap, opts = common.page("Prevalence over time")
f = common.filters(opts)
# the controls' starting values can come from the URL, so a view can be linked to:
# /prevalence?by=day&measure=documents&split=off&together=on
q = st.query_params
c1, c2, c3, c4 = st.columns(4)
by = c1.radio("Period", ["week", "day"], horizontal=True, key="by",
              index=1 if q.get("by") == "day" else 0)  # fmt: skip
measure = c2.radio("Measure", ["share of coverage", "documents"], horizontal=True, key="measure",
                   index=1 if q.get("measure") == "documents" else 0)  # fmt: skip
split = c3.toggle("Split by language", value=q.get("split") != "off", key="split")
together = c4.toggle("All narratives in one chart", value=q.get("together") == "on",
                     key="together")  # fmt: skip
picked = st.multiselect(
    "Narratives", list(opts["narratives"]), default=list(opts["narratives"]), key="narratives"
)

df = bands(snap.database, f, by, split)
if not df.empty:
    # passages whose language could not be told: not a language, so no line of their own
    df = df[df["narrative"].isin(picked) & (df["lang"] != OTHER)]
share = measure == "share of coverage"
st.caption(
    "Share = documents carrying the narrative (a passage confirmed, about the event, asserting "
    "it; refutations and neutral reports do not count) / the documents about the set's event of "
    "that period and language (the denominator, `all_documents`, is in the table below and the "
    "coverage chart). The shaded band is the 95% interval: the corrected share's where the "
    "narrative has enough audit labels (the line then draws the corrected share), else the raw "
    f"share's Wilson interval. Periods with fewer than {MIN_N} documents about the event are "
    "drawn as hollow grey points without a band or line: too few to read a share from."
    if share
    else "Documents with at least one passage confirmed for the narrative."
)
if untold := common.untold(snap.database, f):
    st.caption(
        f"{untold} passage(s) whose language could not be told (language detection gave no "
        "tracked language) are left out of the per-language lines; their documents count in "
        "the all-languages totals."
    )
plot = charts.frame(df, by)
if df.empty:
    st.info("No coverage matches these filters.")
else:
    drawn = set(df["drawn"]) if share else set()
    if "corrected" in drawn:
        st.caption(
            "Corrected for the tracker's error (the analysts' audit) where the tooltip says "
            "drawn: corrected; raw elsewhere."
        )
    elif share:
        st.caption("Raw shares: no narrative has enough audit labels for a corrected one yet.")
    event = opts["event_date"]
    event = event if event is not None and f.start <= event <= f.end else None
    st.altair_chart(
        charts.small_multiples(plot, picked, opts["narratives"], by, share, split, together,
                               event),
        width="content",
    )  # fmt: skip

if share and not df.empty:
    cover = plot.drop_duplicates(["period", "lang"])[["period", "start", "end", "lang",
                                                     "all_documents"]]  # fmt: skip
    st.altair_chart(
        alt.Chart(cover, title="Coverage: documents about the event (the denominator)")
        .mark_bar()
        .encode(
            x=alt.X(
                "yearmonthdate(start):O",
                title=f"{by} from",
                axis=alt.Axis(format="%b %d", labelAngle=-45),
            ),
            y=alt.Y("all_documents:Q", title="documents"),
            color=alt.Color("lang:N", title="language"),
            tooltip=["lang", alt.Tooltip("period:T"), "all_documents"],
        )  # fmt: skip
        .properties(height=220),
        width="stretch",
    )

st.subheader("Totals over the selected range")
# across languages a document counts once (prevalence_daily_all), never a sum over languages;
# the corrected share uses the analysts' audit (narratives.prevalence.corrected)
totals = corrected(snap.database, f, "total", False)
totals = totals[totals["narrative"].isin(picked)][
    ["narrative", "documents", "all_documents", "share", "corrected", "corrected_lo",
     "corrected_hi", "audit_labels", "correction"]
]  # fmt: skip
st.caption(
    "share: the tracker's count over the event's documents (raw). corrected: that share "
    "corrected for the tracker's error as the analysts' audit measured it (the Review page), "
    "with its 95% interval, which includes the uncertainty of the error rates; audit_labels: "
    "the audit labels behind it. Too few labels: no corrected share, and the note says how "
    "many are needed."
)
pct = st.column_config.NumberColumn(format="percent")
st.dataframe(
    totals,
    hide_index=True,
    key="totals",
    column_config={c: pct for c in ("share", "corrected", "corrected_lo", "corrected_hi")},
)
for t in totals.itertuples():  # the same in words, one line per narrative
    raw = f"{t.narrative}: raw {t.share:.1%} ({t.documents} of {t.all_documents} documents)"
    if pd.isna(t.corrected):
        st.text(f"{raw}; corrected: none yet ({t.correction})")
    else:
        st.text(f"{raw}; corrected {t.corrected:.1%} (95% interval {t.corrected_lo:.1%} to "
                f"{t.corrected_hi:.1%}), {t.audit_labels} audit labels")  # fmt: skip
with st.expander("Numbers behind the chart"):
    numbers = ["period", "narrative", "lang", "documents", "all_documents", "share", "share_lo",
               "share_hi", "corrected", "corrected_lo", "corrected_hi", "drawn"]  # fmt: skip
    st.dataframe(df[numbers] if not df.empty else df, hide_index=True, key="numbers")

st.subheader("Passages behind a point")
points = df[df["documents"] > 0] if not df.empty else df
if points.empty:
    st.info("No point with documents under these filters.")
else:
    d1, d2, d3 = st.columns(3)
    narrative = d1.selectbox("Narrative", sorted(points["narrative"].unique()), key="pt_narrative")
    at = points[points["narrative"] == narrative]
    period = d2.selectbox("Period", sorted(at["period"].unique()), key="pt_period")
    langs = sorted(at[at["period"] == period]["lang"].unique())
    lang = d3.selectbox("Language", langs, key="pt_lang")
    point = common.data.Filters(
        max(period, f.start), min(common.period_end(period, by), f.end),
        (lang,) if split else f.langs, f.kinds,
    )  # fmt: skip
    rows = common.evidence_rows(snap, point, narratives=[narrative])
    common.show_passage(rows, "prevalence")
