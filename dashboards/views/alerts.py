"""Alerts: days a narrative's (or a cluster's) share of a language's documents rose well above
its trailing baseline, with the test that said so."""

import streamlit as st

from dashboards import common, data

alerts = st.cache_data(show_spinner=False, max_entries=16)(data.alerts)

snap, opts = common.page("Alerts")
st.caption(
    "An alert: a day on which the share of a language's documents carrying a narrative (or a "
    "discovered cluster) is improbable under its trailing baseline (one-sided binomial test, "
    "p below the threshold in the run's parameters) and large in ratio and count. Raised by "
    "`narratives discover` (daily under `narratives serve`)."
)
df = alerts(snap.database)
c1, c2 = st.columns(2)
c1.metric("Alerts", len(df))
c2.metric("Subjects", df["subject"].nunique() if len(df) else 0)
if df.empty:
    st.info("No alerts in this snapshot: none were raised, or discovery has not run yet.")
subjects = st.multiselect("Subjects", sorted(df["subject"].unique()), placeholder="all",
                          key="subjects")  # fmt: skip
shown = df[df["subject"].isin(subjects)] if subjects else df
pct = st.column_config.NumberColumn(format="percent")
st.dataframe(shown, hide_index=True, key="alerts",
             column_config={"share": pct, "baseline": pct,
                            "p_value": st.column_config.NumberColumn(format="%.1e")})  # fmt: skip
