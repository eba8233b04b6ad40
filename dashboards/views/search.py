"""Search: free text in any language, nearest passages in all languages; save as a draft."""

import streamlit as st

from dashboards import common, drafts
from narratives.core.langs import OTHER, TRACKED
from narratives.matching.sets import DefinitionError
from narratives.vectors.search import search, search_each_language
from narratives.vectors.step import load_embedder

snap, opts = common.page("Search")
settings = common.settings()
c1, c2, c3, c4 = st.columns([4, 1, 1, 1])
query = c1.text_input(
    "Free text in any language", value=st.query_params.get("q", ""), key="query",
    placeholder="e.g. Kyiv prepared a window at the border for the gunmen",
)  # fmt: skip
k = c2.number_input("Results", 1, 200, 20, key="k")
lang = c3.selectbox("Only language", [None, *TRACKED, OTHER], key="lang",
                    format_func=lambda v: "all" if v is None else v)  # fmt: skip
per_lang = c4.toggle("Each language", value=True, key="per_lang",
                     help=f"the best k passages of each of {', '.join(TRACKED)}, taken in turns")  # fmt: skip
if not query.strip():
    st.info("Type a claim or a phrase; results come from every language.")
    st.stop()

try:
    with st.spinner("searching (the first search loads the embedding model)"):
        embedder = load_embedder(settings.model, settings.models_dir)  # one per process
        if lang or not per_lang:
            hits = search(snap.database, snap.index_dir, embedder, query, int(k), lang)
        else:
            hits = search_each_language(snap.database, snap.index_dir, embedder, query, int(k))
except LookupError as exc:
    st.error("Search is not possible on this snapshot:")
    st.text(str(exc))
    st.stop()
st.metric("Results", len(hits))
st.dataframe(
    [{"rank": i + 1, "score": h["score"], "lang": h["lang"], "outlet": h["outlet"],
      "date": h["day"], "passage": h["text"], "url": h["url"]} for i, h in enumerate(hits)],
    hide_index=True, key="hits",
    column_config={"score": st.column_config.NumberColumn(format="%.3f")},
)  # fmt: skip
if not hits:
    st.stop()
read = st.selectbox("Read a result in full", range(len(hits)), key="read",
                    format_func=lambda i: f"rank {i + 1}, score {hits[i]['score']:.3f}")  # fmt: skip
st.text(hits[read]["text"])
st.text("source: " + str(hits[read]["url"] or ""))

st.subheader("Save as narrative")
st.caption(
    "Writes a draft narrative (status: draft, which matching skips) with the query as its "
    f"description and the chosen results as exemplars, to {settings.drafts_dir}/<id>.yaml. "
    "Edit it, then move it into a narrative set."
)
with st.form("save"):
    f1, f2, f3 = st.columns([2, 3, 1])
    nid = f1.text_input("Narrative id (lowercase, dashes)", key="draft_id")
    label = f2.text_input("Label", key="draft_label")
    threshold = f3.number_input("Threshold", 0.5, 1.0, 0.86, 0.01, key="draft_threshold")
    chosen = st.multiselect(
        "Results to use as exemplars", list(range(1, len(hits) + 1)),
        default=list(range(1, min(len(hits), 5) + 1)), key="draft_rows",
    )  # fmt: skip
    overwrite = st.checkbox("Overwrite a draft with the same id", key="draft_overwrite")
    saved = st.form_submit_button("Save draft")
if saved:
    try:
        nset = drafts.draft_set(nid.strip(), label, query, [hits[i - 1] for i in chosen],
                                float(threshold), opts["event_date"])  # fmt: skip
        path = drafts.save_draft(nset, settings.drafts_dir, overwrite)
    except DefinitionError as exc:
        st.error("Not saved:")
        st.text(f"{exc.where}: {exc.problem}")
    else:
        st.success("Draft saved.")
        st.code(str(path.resolve()), language=None)
        st.code(path.read_text(encoding="utf-8"), language="yaml")
