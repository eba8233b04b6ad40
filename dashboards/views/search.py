"""Search: free text in any language, one ranking by similarity over every language, with
per-language counts, reprints folded into one hit, a relevance cut; save as a draft."""

import pandas as pd
import streamlit as st

from dashboards import common, drafts
from narratives.core.langs import OTHER, TRACKED
from narratives.matching.sets import DefinitionError
from narratives.vectors.search import ranked
from narratives.vectors.step import load_embedder

# The relevance cut: hits below this cosine similarity are hidden. Measured on the demo
# (docs/dashboard.md, "Search"): with multilingual-e5-small nearly every passage scores 0.7 or
# more against any query about the attack; 0.81 is the lowest cut at which at least half the
# hits shown come from documents carrying the query's narrative (each narrative's label and
# description as queries, the corpus's gold labels). Not tuned to a test.
MIN_SIMILARITY = 0.81
SCORE = "similarity (cosine of the query's and the passage's embeddings, 0 to 1; not a probability)"

snap, opts = common.page("Search")
settings = common.settings()
c1, c2, c3, c4 = st.columns([4, 1, 1, 1])
query = c1.text_input(
    "Free text in any language", value=st.query_params.get("q", ""), key="query",
    placeholder="e.g. Kyiv prepared a window at the border for the gunmen",
)  # fmt: skip
k = c2.number_input("Results", 1, 200, 20, key="k")
lang = c3.selectbox("Only language", [None, *TRACKED], key="lang",
                    format_func=lambda v: "all" if v is None else v)  # fmt: skip
cut = c4.number_input("Relevance cut", 0.0, 1.0, MIN_SIMILARITY, 0.01, key="cut", format="%.2f",
                      help="hits less similar than this are hidden; see docs/dashboard.md")  # fmt: skip
if not query.strip():
    st.info("Type a claim or a phrase; results come from every language.")
    st.stop()

try:
    with st.spinner("searching (the first search loads the embedding model)"):
        embedder = load_embedder(settings.model, settings.models_dir)  # one per process
        hits = ranked(snap.database, snap.index_dir, embedder, query, int(k), float(cut), lang)
except LookupError as exc:
    st.error("Search is not possible on this snapshot:")
    st.text(str(exc))
    st.stop()
st.caption(
    f"One ranking by similarity over every language. Score: {SCORE}. Hits below the relevance "
    f"cut ({cut:.2f}) are hidden. A passage reprinted elsewhere is shown once, with "
    '"+N reprints". "confirmed for": the narratives the tracker confirmed the passage for.'
)
tracked = common.data.confirmed_for(snap.database, [h["id"] for h in hits])
for h in hits:  # language detection gave no tracked language: say so, not "other"
    h["lang"] = common.UNTOLD if h["lang"] == OTHER else h["lang"]
    h["narratives"] = tracked.get(h["id"], "")
facets = (
    [*TRACKED, common.UNTOLD] if any(h["lang"] == common.UNTOLD for h in hits) else list(TRACKED)
)
m = st.columns(1 + len(facets))
m[0].metric("Results", len(hits))
for col, code in zip(m[1:], facets, strict=True):
    col.metric(code, sum(h["lang"] == code for h in hits))
if common.UNTOLD in facets:
    st.caption(f"{common.UNTOLD}: passages whose language could not be told (language detection gave "
               "none of en, ru, uk).")  # fmt: skip
table = pd.DataFrame(
    [{"rank": i + 1, "score": h["score"], "lang": h["lang"], "outlet": h["outlet"],
      "date": h["day"], "reprints": f"+{h['copies']} reprints" if h["copies"] else "",
      "passage": h["text"], "confirmed for": h["narratives"], "url": h["url"]}
     for i, h in enumerate(hits)],
    columns=["rank", "score", "lang", "outlet", "date", "reprints", "passage", "confirmed for",
             "url"],
)  # fmt: skip
st.dataframe(
    table, hide_index=True, key="hits",
    column_config={
        "score": st.column_config.NumberColumn("similarity", format="%.3f", help=SCORE),
        "outlet": st.column_config.TextColumn(width="medium"),
        "passage": st.column_config.TextColumn(width="large"),
        "confirmed for": st.column_config.TextColumn(
            help="the live narratives the tracker confirmed this passage for, with its stance: "
            "a second opinion on relevance, not part of the ranking"
        ),
    },
)  # fmt: skip
best = {code: next((i for i, h in enumerate(hits) if h["lang"] == code), None) for code in TRACKED}
st.text("\n".join(
    f"best in {code}: " + (f"rank {i + 1}, similarity {hits[i]['score']:.3f}, "
                           f"{hits[i]['outlet'] or '-'}: {hits[i]['text']}" if i is not None
                           else "no hit above the cut")
    for code, i in best.items()
))  # fmt: skip
if not hits:
    st.info(f"No passage is as similar as {cut:.2f} to the query: lower the relevance cut to see "
            "weaker hits.")  # fmt: skip
    st.stop()
read = st.selectbox("Read a result in full", range(len(hits)), key="read",
                    format_func=lambda i: f"rank {i + 1}, similarity {hits[i]['score']:.3f}")  # fmt: skip
st.text(hits[read]["text"])
st.text(f"{hits[read]['outlet'] or '-'}, {hits[read]['day']}")
st.text("source: " + str(hits[read]["url"] or ""))

st.subheader("Save as narrative")
st.caption(
    "Writes a draft narrative (status: draft, which matching skips) with the query as its "
    f"description and the chosen results as exemplars, to {settings.drafts_dir}/<id>.yaml. "
    "Pick the results that say what the narrative says: none is chosen for you. Edit the "
    "draft, then move it into a narrative set."
)
with st.form("save"):
    f1, f2, f3 = st.columns([2, 3, 1])
    nid = f1.text_input("Narrative id (lowercase, dashes)", key="draft_id")
    label = f2.text_input("Label", key="draft_label")
    threshold = f3.number_input("Threshold", 0.5, 1.0, 0.86, 0.01, key="draft_threshold")
    chosen = st.multiselect(
        "Results to use as exemplars (by rank)", list(range(1, len(hits) + 1)), default=[],
        key="draft_rows",
    )  # fmt: skip
    overwrite = st.checkbox("Overwrite a draft with the same id", key="draft_overwrite")
    saved = st.form_submit_button("Save draft")
if saved:

    def make():
        if not chosen:
            raise DefinitionError("draft", "exemplars", "choose at least one result")
        nset = drafts.draft_set(nid.strip(), label, query, [hits[i - 1] for i in chosen],
                                float(threshold), opts["event_date"])  # fmt: skip
        return drafts.save_draft(nset, settings.drafts_dir, overwrite)

    path = common.save_draft(make, "Not saved:")
    if path is not None:
        st.code(path.read_text(encoding="utf-8"), language="yaml")
