"""Discovery: clusters of passages (FAISS k-means over the stored vectors), emerging ones first,
with their key terms and the passages nearest their centre; promote one to a draft narrative."""

import pandas as pd
import streamlit as st

from dashboards import common, data, drafts

clusters = st.cache_data(show_spinner=False, max_entries=16)(data.clusters)
cluster = st.cache_data(show_spinner=False, max_entries=64)(data.cluster)

snap, opts = common.page("Discovery")
settings = common.settings()
scope = st.radio("Passages clustered", ["all", "residual"], horizontal=True, key="scope",
                 format_func={"all": "all passages",
                              "residual": "the residual (no tracked narrative claims them)"}.get)  # fmt: skip
st.caption(
    "Emerging: a cluster no tracked narrative is near (similarity to the nearest narrative "
    "below the discovery threshold); 'matches X': the cluster is narrative X again. Terms: the "
    "words that set the cluster apart, per language. Clusters come from `narratives discover` "
    "(daily under `narratives serve`) and show here from the next published snapshot."
)
df = clusters(snap.database, scope)
emerging = int((df["status"] == "emerging").sum()) if len(df) else 0
c1, c2 = st.columns(2)
c1.metric("Clusters", len(df))
c2.metric("Emerging", emerging)
if df.empty:
    st.info("No clusters in this snapshot: run `narratives discover`, then the next pipeline "
            "run publishes them.")  # fmt: skip
    st.stop()
st.dataframe(df, hide_index=True, key="clusters",
             column_config={"terms": st.column_config.TextColumn(width="large"),
                            "confirmed": st.column_config.NumberColumn(
                                "confirmed", format="percent",
                                help="share of its passages confirmed for the nearest narrative")})  # fmt: skip

picked = st.selectbox("Cluster", list(df["id"]), key="cluster",
                      format_func=lambda i: f"{i}: " + str(df.set_index("id").loc[i, "status"]))  # fmt: skip
d = cluster(snap.database, int(picked))
st.text(f"cluster {d['id']}: {d['size']} passages, {d['documents']} documents, "
        f"{d['first_day']} to {d['last_day']}; nearest narrative {d['nearest_narrative']} "
        f"(similarity {d['nearest_similarity']:.3f})")  # fmt: skip
st.subheader("Key terms")
st.dataframe(pd.DataFrame(d["terms"], columns=["lang", "terms"]), hide_index=True, key="terms")
st.subheader("Representative passages (nearest the centre)")
reps = pd.DataFrame(d["representatives"],
                    columns=["lang", "rank", "similarity", "outlet", "day", "passage"])  # fmt: skip
st.dataframe(reps, hide_index=True, key="reps",
             column_config={"outlet": st.column_config.TextColumn(width="medium"),
                            "passage": st.column_config.TextColumn(width="large")})  # fmt: skip
with st.expander("Size per language and outlet"):
    sizes = pd.DataFrame(d["sizes"], columns=["lang", "outlet", "kind", "passages", "documents"])
    st.dataframe(sizes, hide_index=True, key="sizes")

st.subheader("Promote to a draft narrative")
st.caption(
    "Writes a draft narrative (status: draft, which matching skips) whose exemplars are this "
    f"cluster's representative passages, to {settings.drafts_dir}/<id>.yaml; read and edit it, "
    "then move it into a narrative set (`narratives promote` adds it to a set file directly)."
)
with st.form("promote"):
    f1, f2 = st.columns([2, 3])
    nid = f1.text_input("Narrative id (lowercase, dashes)", key="promote_id")
    label = f2.text_input("Label", key="promote_label")
    saved = st.form_submit_button("Promote")
if saved:
    passages = [
        {"lang": r.lang, "text": " ".join(str(r.passage).split())} for r in reps.itertuples()
    ]
    # the passage nearest the centre describes the draft, as `narratives promote` does
    best = reps.sort_values("similarity", ascending=False).head(1)["passage"].tolist()
    description = " ".join(str(best[0]).split()) if best else ""

    def make():
        nset = drafts.draft_set(nid.strip(), label or f"Cluster {picked}", description, passages,
                                event_date=opts["event_date"])  # fmt: skip
        return drafts.save_draft(nset, settings.drafts_dir)

    common.save_draft(make, "Not promoted:")
