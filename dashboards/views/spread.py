"""Spread: which language carried a narrative first and whether one leads another (with the
significance test the analytics stage gives), then originators, amplifiers and reprint chains."""

import pandas as pd
import streamlit as st

from dashboards import common, data

lead_lag = st.cache_data(show_spinner=False, max_entries=32)(data.lead_lag)
amplifiers = st.cache_data(show_spinner=False, max_entries=32)(data.amplifiers)
reprint_chains = st.cache_data(show_spinner=False, max_entries=32)(data.reprint_chains)

snap, opts = common.page("Spread")
c1, c2 = st.columns([3, 1])
narrative = c1.selectbox("Narrative", list(opts["narratives"]), key="narrative",
                         format_func=lambda n: f"{n}: {opts['narratives'][n]}")  # fmt: skip
max_lag = c2.number_input("Largest lag tried (days)", 1, 30, 7, key="max_lag")

st.subheader("Who came first")
st.caption(
    "First documents: the earliest document carrying the narrative per language and outlet "
    "kind (one document each: an observation, not a test). Lead-lag: the shift of one "
    "language's daily shares that best matches another's (Pearson correlation), with a "
    "permutation test: p is how often shuffled days match as well at any lag; a lead is "
    "claimed only when p < 0.05 and the lag is not 0."
)
try:
    r = lead_lag(snap.database, narrative, int(max_lag))
except (LookupError, ValueError) as exc:
    st.info("No lead-lag for this narrative:")
    st.text(str(exc))
    r = None
if r is not None:
    first = pd.DataFrame(
        r["first"], columns=["lang", "outlet kind", "first", "outlet", "documents"]
    )
    st.dataframe(first, hide_index=True, key="first",
                 column_config={"outlet": st.column_config.TextColumn(width="large")})  # fmt: skip
    order = sorted(r["first_by_lang"].items(), key=lambda kv: kv[1][0])
    st.text("first documents: " + " -> ".join(f"{lang} ({at:%Y-%m-%d})" for lang, (at, _) in order))
    pairs = pd.DataFrame(r["pairs"])
    if pairs.empty:
        st.info(f"No two languages have shares that vary over the {r['days']} days to compare.")
    else:
        st.dataframe(pairs, hide_index=True, key="pairs",
                     column_config={"correlation": st.column_config.NumberColumn(format="%.2f"),
                                    "p_value": st.column_config.NumberColumn(format="%.3f"),
                                    "reading": st.column_config.TextColumn(width="large")})  # fmt: skip
        if "reading" in pairs:  # the stage's own sentence, one per pair, as plain text
            st.text(
                "\n".join(f"{p.leader} / {p.follower}: {p.reading}" for p in pairs.itertuples())
            )

st.subheader("Originators and amplifiers")
only = st.toggle("Only edges whose source carries this narrative", value=False, key="only")
amp = amplifiers(snap.database, narrative if only else None)
st.caption(
    "From reprint edges (a document copied, exactly or nearly, by another outlet) and Telegram "
    "forwards: originated = copies of this outlet's documents elsewhere, amplified = copies it "
    "made; score +1 pure originator, -1 pure amplifier; reach = outlets that copied it."
)
if amp.empty:
    st.info("No reprint or forward edges in this snapshot.")
else:
    st.dataframe(amp.drop(columns=["outlet_id"]), hide_index=True, key="amplifiers",
                 column_config={"outlet": st.column_config.TextColumn(width="large"),
                                "score": st.column_config.NumberColumn(format="%.2f"),
                                "median_delay_h": st.column_config.NumberColumn(format="%.1f")})  # fmt: skip

st.subheader("Reprint chains")
chains = reprint_chains(snap.database, narrative if only else None)
if chains.empty:
    st.info("No reprints in this snapshot.")
else:
    st.dataframe(chains, hide_index=True, key="chains",
                 column_config={c: st.column_config.TextColumn(width="medium")
                                for c in ("original outlet", "copied by", "title")})  # fmt: skip
