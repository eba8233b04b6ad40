"""Prevalence over time: small multiples per narrative, counts or share of all coverage."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common

corrected = st.cache_data(show_spinner=False, max_entries=64)(common.data.corrected)

snap, opts = common.page("Prevalence over time")
f = common.filters(opts)
c1, c2, c3, c4 = st.columns(4)
by = c1.radio("Period", ["week", "day"], horizontal=True, key="by")
measure = c2.radio("Measure", ["share of coverage", "documents"], horizontal=True, key="measure")
split = c3.toggle("Split by language", value=True, key="split")
together = c4.toggle("All narratives in one chart", value=False, key="together")
picked = st.multiselect(
    "Narratives", list(opts["narratives"]), default=list(opts["narratives"]), key="narratives"
)

df = common.prevalence(snap.database, f, by, split)
df = df[df["narrative"].isin(picked)]
share = measure == "share of coverage"
y_field, y_title = ("share", "share of documents") if share else ("documents", "documents")
st.caption(
    "Share = documents carrying the narrative (a passage confirmed, about the event, asserting "
    "it; refutations and neutral reports do not count) / the documents about the set's event of "
    "that period and language (the denominator, `all_documents`, is in the table below and the "
    "coverage chart)."
    if share
    else "Documents with at least one passage confirmed for the narrative."
)

plot = common.temporal(df)
tooltip = ["narrative", "lang", alt.Tooltip("period:T"), "documents", "all_documents",
           alt.Tooltip("share:Q", format=".1%")]  # fmt: skip
y = alt.Y(f"{y_field}:Q", title=y_title, axis=alt.Axis(format=".0%") if share else alt.Axis())
event = opts["event_date"]
rule = None
if event is not None and f.start <= event <= f.end:
    marker = pd.DataFrame({"event": [pd.Timestamp(event)], "label": [f"event {event}"]})
    rule = alt.Chart(marker).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(x="event:T")
    rule = rule + alt.Chart(marker).mark_text(align="left", dx=4, dy=-6, color="firebrick").encode(
        x="event:T", y=alt.value(0), text="label:N"
    )


# weekly ticks on the weeks themselves (Mondays), not on Vega's own Sunday-based weeks
weeks = sorted(plot["period"].unique())
x_axis = alt.Axis(format="%b %d", labelOverlap=True,
                  values=[alt.DateTime(year=w.year, month=w.month, date=w.day) for w in map(pd.Timestamp, weeks)]
                  if by == "week" else alt.Undefined)  # fmt: skip


def line_chart(frame, color: str, title: str | None = None, dash: str | None = None):
    enc = {"x": alt.X("period:T", title=by, axis=x_axis), "y": y, "color": alt.Color(f"{color}:N"),
           "tooltip": tooltip}  # fmt: skip
    if dash:
        enc["strokeDash"] = alt.StrokeDash(f"{dash}:N")
    chart = alt.Chart(frame, title=title).mark_line(point=True).encode(**enc)
    chart = chart.properties(width=720, height=180 if not together else 320)
    return chart + rule if rule is not None else chart


if df.empty:
    st.info("No coverage matches these filters.")
elif together:
    st.altair_chart(line_chart(plot, "narrative", dash="lang" if split else None), width="content")
else:
    charts = [
        line_chart(plot[plot["narrative"] == n], "lang", title=f"{n}: {opts['narratives'][n]}")
        for n in picked
    ]
    st.altair_chart(alt.vconcat(*charts).resolve_scale(color="shared"), width="content")

if share and not df.empty:
    cover = plot.drop_duplicates(["period", "lang"])[["period", "lang", "all_documents"]]
    st.altair_chart(
        alt.Chart(cover, title="Coverage: documents about the event (the denominator)")
        .mark_bar()
        .encode(
            x=alt.X(
                "yearmonthdate(period):O", title=by, axis=alt.Axis(format="%b %d", labelAngle=-45)
            ),
            y=alt.Y("all_documents:Q", title="documents"),
            color="lang:N",
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
    st.dataframe(df, hide_index=True, key="numbers")

st.subheader("Passages behind a point")
points = df[df["documents"] > 0]
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
