"""Review: analysts label items one at a time, so prevalence can be corrected for the tracker's
error (the audit stream) and the head learns where it hesitates (the uncertain stream).

The queue is read from the published snapshot, like every page. A verdict goes to the label
journal at once (narratives.labels.inbox): a file of this session's own, fsynced, which no
pipeline run can block, so a click never waits and never loses a label. "Store labels" runs the
labels step (narratives.pipeline.run_labels), which stores the journal's new labels in the
database and publishes a new snapshot; while a run holds the database the labels simply wait in
the journal for the next run. `narratives review` is the same on the command line.
"""

import os

import streamlit as st

from dashboards import common, data
from narratives.core.store import (
    DatabaseBusy,
    DatabaseMissing,
    DatabaseOutdated,
    DatabaseUnreadable,
)
from narratives.labels.inbox import Journal, all_labels
from narratives.labels.model import VERDICTS, BadLabel, now
from narratives.labels.queue import label_for
from narratives.pipeline import run_labels

# (verdict, button, keyboard shortcut): digits, since Streamlit reserves "R" and "C"
BUTTONS = [("asserts", "Asserts", "1"), ("refutes", "Refutes", "2"), ("reports", "Reports", "3"),
           ("no", "No", "4"), ("none", "None of these", "5")]  # fmt: skip
BATCH = 20  # items fetched at a time: the audit's queries scan the coverage once per narrative
STORE_WAIT_S = 2.0  # a button must not hang for the pipeline's whole lock wait
BUSY = (
    "A run holds the database: your labels are safe in the journal and will be stored by the "
    "next run"
)
STREAM_HELP = {
    "audit": "random documents per narrative, counted and not counted by the tracker in turns: "
    "they measure its error, and the corrected prevalence uses them",
    "uncertain": "passages nearest the threshold: they teach the head at the next run",
}

# the snapshot's stored labels: a snapshot is never written, so its path is the cache key
stored_labels = st.cache_data(show_spinner=False, max_entries=4)(data.stored_labels)


def item_key(stream: str, narrative_id: str, document_hash: str, passage_hash: str | None):
    """What makes an item done, as the queue sees it: an audit document per narrative, or a
    passage per narrative (whatever stream labelled it)."""
    return (stream, narrative_id, document_hash if stream == "audit" else passage_hash)


def key_of(item: dict) -> tuple:
    return item_key(item["stream"], item["narrative_id"], item["document_hash"],
                    item.get("passage_hash"))  # fmt: skip


def done_keys(labels: list[dict]) -> set[tuple]:
    keys = set()
    for r in labels:
        if r.get("stream") == "audit":
            keys.add(item_key("audit", r["narrative_id"], r["document_hash"], None))
        if r.get("passage_hash"):
            keys.add(item_key("uncertain", r["narrative_id"], r["document_hash"],
                              r["passage_hash"]))  # fmt: skip
    return keys


def journal(who: str) -> Journal:
    """This session's journal file (one per session and reviewer: writers never share a file)."""
    state = st.session_state
    if state.get("review_journal") is None or state.get("review_who") != who:
        state.review_journal, state.review_who = Journal(common.settings().labels_dir, who), who
    return state.review_journal


def give(item: dict, verdict: str, who: str) -> None:
    """A verdict button's click: the label goes to the journal, the queue moves on."""
    state = st.session_state
    queue = state.get("review_queue") or []
    if not queue or key_of(queue[0]) != key_of(item):
        return  # a second click on an item already labelled
    try:
        journal(who).append(label_for(item, verdict, who, now()))
    except (OSError, BadLabel) as exc:
        state.review_flash = ("error", f"Label not saved: {exc}")
        return
    queue.pop(0)
    state.review_given = state.get("review_given", 0) + 1
    state.review_flash = None


def skip(item: dict) -> None:
    state = st.session_state
    queue = state.get("review_queue") or []
    if queue and key_of(queue[0]) == key_of(item):
        queue.pop(0)
        state.review_skipped.add(key_of(item))
    state.review_flash = None


def store() -> None:
    """The "Store labels" button: the labels step, which publishes a new snapshot when it stores."""
    settings = common.settings()
    state = st.session_state
    try:
        row = run_labels(settings.replace(lock_wait_s=min(settings.lock_wait_s, STORE_WAIT_S)))
    except DatabaseBusy:
        state.review_flash = ("warning", BUSY + ".")
        return
    except Exception as exc:  # noqa: BLE001 - the edge: one line; the labels stay in the journal
        state.review_flash = ("error", f"Labels not stored ({exc}); they are safe in the journal.")
        return
    counts = row.get("counts") or {}
    bad = counts.get("label_problems") or 0
    state.review_flash = ("success", f"Stored {counts.get('labels_new', 0)} new label(s); "
                          f"{counts.get('labels_total', 0)} in all"
                          + (f"; {bad} bad journal line(s) skipped." if bad else "."))  # fmt: skip
    # the run published a new snapshot, which the next rerun reads (a new path); drop this
    # page's cached labels of the old one and refetch the queue against the new one
    stored_labels.clear()
    state.review_queue = []


snap, opts = common.page("Review")
settings = common.settings()
state = st.session_state
state.setdefault("review_given", 0)
state.setdefault("review_skipped", set())
st.caption(
    "Label one item at a time. Each click is saved at once in the label journal "
    "(`<home>/labels/`); **Store labels** puts the labels in the database, and the next run "
    "corrects prevalence and retrains the head with them. Shortcuts: 1 to 5 for the verdicts, "
    "S to skip."
)

c1, c2, c3 = st.columns([2, 3, 2])
# ?stream=uncertain opens that stream (a link an analyst can bookmark or send)
streams = ["audit", "uncertain"]
asked = st.query_params.get("stream")
stream = c1.radio("Stream", streams, horizontal=True, key="review_stream",
                  index=streams.index(asked) if asked in streams else 0,
                  help="; ".join(f"{k}: {v}" for k, v in STREAM_HELP.items()))  # fmt: skip
names = opts["narratives"]
narrative = c2.selectbox(
    "Narrative", [None, *names], key="review_narrative",
    format_func=lambda n: "every narrative in turn" if n is None else f"{n}: {names[n]}",
)  # fmt: skip
who = c3.text_input(
    "Reviewer", value=os.environ.get("NARRATIVES_REVIEWER") or "analyst", key="review_reviewer"
).strip()

try:
    journal_labels = all_labels(settings.labels_dir)
except OSError as exc:
    common.stop_with(f"The label journal {settings.labels_dir} cannot be read: {exc.strerror}")
try:
    stored = stored_labels(snap.database)
except (DatabaseMissing, DatabaseOutdated, DatabaseUnreadable) as exc:  # e.g. pruned meanwhile
    common.stop_with(f"The snapshot cannot be read ({exc}); reload the page.")
stored_ids = {r["label_id"] for r in stored}
waiting = len({r["label_id"] for r in journal_labels} - stored_ids)

# the batch of items: labels given meanwhile (by anyone, in the journal) and skips leave it;
# a new snapshot, stream or narrative, or an empty batch, fetches the next one
left_out = done_keys(journal_labels) | state.review_skipped
if state.get("review_for") != (str(snap.folder), stream, narrative):
    state.review_for, state.review_queue = (str(snap.folder), stream, narrative), []
queue = [i for i in state.review_queue if key_of(i) not in left_out]
if not queue:
    try:
        fetched = data.review_queue(snap.database, stream, stored + journal_labels, narrative,
                                    BATCH + len(state.review_skipped))  # fmt: skip
    except (DatabaseMissing, DatabaseOutdated, DatabaseUnreadable) as exc:
        common.stop_with(f"The snapshot cannot be read ({exc}); reload the page.")
    queue = [i for i in fetched if key_of(i) not in left_out][:BATCH]
state.review_queue = queue

flash = state.get("review_flash")
if flash:
    getattr(st, flash[0])(flash[1])

if not who:
    st.warning("Give a reviewer name: every label says who gave it.")
elif not queue:
    where = f" for {narrative}" if narrative else ""
    st.info(f"Nothing left to review in the {stream} stream{where}.")
else:
    item = queue[0]
    with st.container(border=True):
        # text that came with the coverage (title, outlet, passage, URL) is shown as plain text
        ident = f"{item['narrative_id']} · document {item['document_hash'][:12]}"
        if item.get("passage_hash"):
            ident += f" · passage {item['passage_hash'][:12]}"
        st.text(ident)
        st.text(f"Narrative: {item['narrative_label']}")
        st.text(f"Title: {item.get('title') or '(untitled)'}")
        where = [str(x) for x in (item.get("outlet"), item.get("lang"), item.get("day")) if x]
        st.text(" · ".join(where))
        if item["stream"] == "audit":
            decision = "counted" if item.get("stratum") == "counted" else "not counted"
        else:
            decision = str(item.get("decision") or "-")
            if item.get("threshold") is not None:
                decision += f" (threshold {item['threshold']:.3f})"
        score = item.get("score")
        # an audit item is a document: its score and stance are those of its best passage
        what = "best passage score" if item["stream"] == "audit" else "score"
        score_txt = f"{score:.3f}" if score is not None else "-"
        st.text(f"Tracker: {decision} · {what} {score_txt} · stance {item.get('stance') or '-'}")
        st.text(str(item.get("text") or ""))
        if item.get("url"):
            st.text(f"source: {item['url']}")
    # the buttons are keyed by the item: a click (a double click, a click during a rerun)
    # meant for an item already labelled never labels the next one
    tag = "_".join(str(k) for k in key_of(item))
    cols = st.columns(len(BUTTONS) + 1)
    for col, (verdict, label, shortcut) in zip(cols, BUTTONS, strict=False):
        col.button(label, key=f"review_{verdict}_{tag}", help=VERDICTS[verdict], on_click=give,
                   args=(item, verdict, who), shortcut=shortcut, width="stretch")  # fmt: skip
    cols[-1].button("Skip", key=f"review_skip_{tag}", on_click=skip, args=(item,),
                    help="not now: served again in a later session", shortcut="S",
                    width="stretch")  # fmt: skip

st.divider()
s1, s2 = st.columns([3, 1])
given = state.review_given
s1.text(f"{given} label{'s' if given != 1 else ''} this session, {waiting} waiting to be stored")
s2.button("Store labels", key="review_store", on_click=store, type="primary", width="stretch",
          help="store the journal's labels in the database now (the next run does it anyway)")  # fmt: skip
