"""The Review page in a real browser: `narratives dashboard` serves a database built by the real
pipeline, headless Chromium clicks verdict buttons, "Store labels" stores them, and the DuckDB
file, the label journal and the queue are checked afterwards. Then a label given while another
process holds the database's writer: kept in the journal, said so on the page, stored by the
next labels run."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from narratives.core.store import reader, writer
from narratives.labels.inbox import all_labels as journal_labels
from narratives.labels.inbox import files as journal_files
from narratives.labels.queries import all_labels, label_counts
from narratives.labels.queue import next_items
from narratives.pipeline import run_labels
from tests.browser import Browser

# the same served dashboard (module-scoped: built here once for this module) and browser
from tests.test_dashboard_browser import IDLE, browser, served  # noqa: F401

SHOTS = Path(__file__).resolve().parents[1] / "reports" / "screenshots"
VERDICTS = {"asserts": "Asserts", "refutes": "Refutes", "reports": "Reports", "no": "No",
            "none": "None of these"}  # fmt: skip
IDENT = re.compile(r"^(\S+) · document ([0-9a-f]{12})")
COUNTER = re.compile(r"(\d+) labels? this session, (\d+) waiting to be stored")
STATE = """JSON.stringify({
  texts: [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stText"]')]
    .map(t => t.innerText),
  alerts: [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stAlert"]')]
    .map(a => a.innerText.trim()),
  exceptions: document.querySelectorAll('[data-testid="stException"]').length,
  idle: (IDLE_JS) && !document.querySelector('[data-stale="true"]'),
})""".replace("IDLE_JS", IDLE)


def page_state(page: Browser) -> dict:
    """What the Review page shows: the item (narrative, document hash prefix), the counter, the
    alerts; `idle` once Streamlit has finished its rerun (no element left from the last one)."""
    state = json.loads(page.eval(STATE))
    state["item"] = next((m.groups() for t in state["texts"] if (m := IDENT.match(t))), None)
    counter = next((m for t in state["texts"] if (m := COUNTER.search(t))), None)
    state["given"], state["waiting"] = map(int, counter.groups()) if counter else (None, None)
    return state


def wait_for(page: Browser, done, what: str, timeout: float = 60) -> dict:
    """The page's state once `done(state)` holds on an idle page with no exception."""
    deadline = time.monotonic() + timeout
    while True:
        state = page_state(page)
        assert state["exceptions"] == 0, state
        # the counter is the page's last element: with it, the whole page is drawn
        if state["idle"] and state["given"] is not None and done(state):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Review page did not show {what}: {state}")
        time.sleep(0.15)


def open_review(page: Browser, base: str, stream: str = "audit") -> Browser:
    """The Review page loaded in a new session (a new journal file), ready to label. Returns the
    browser page, so a test can go on to other pages (e.g. Prevalence after storing)."""
    page.load("about:blank", "location.href === 'about:blank'")  # never the last page's state
    page.load(base + f"review?stream={stream}",
              f"({IDLE}) && document.body.innerText.includes('this session')")  # fmt: skip
    wait_for(page, lambda s: s["given"] == 0, "its counter")
    return page


def click(page: Browser, label: str, timeout: float = 10, times: int = 1) -> None:
    """Click the main area's button whose text is `label` (a shortcut badge may follow it);
    `times` clicks in a row, as fast as a double click."""
    js = (
        "(() => { const b = [...document.querySelectorAll('[data-testid=\"stMain\"] button')]"
        f".find(b => b.innerText.trim().split('\\n')[0].trim() === {json.dumps(label)});"
        f" if (!b || b.disabled) return false; b.focus(); for (let i = 0; i < {times}; i++)"
        " b.click(); return true; })()"
    )
    deadline = time.monotonic() + timeout
    while not page.eval(js):  # Streamlit draws a page's elements one after another
        assert time.monotonic() < deadline, f"no button {label!r} on the page"
        time.sleep(0.1)


def press(page: Browser, key: str) -> None:
    """A key typed on the page (not in a field), as a keyboard shortcut."""
    page.eval("document.activeElement && document.activeElement.blur()")
    code = {"type": "keyDown", "key": key.lower(), "code": f"Key{key.upper()}" if key.isalpha()
            else f"Digit{key}", "windowsVirtualKeyCode": ord(key.upper()), "text": key.lower()}  # fmt: skip
    page.send("Input.dispatchKeyEvent", **code)
    page.send("Input.dispatchKeyEvent", **(code | {"type": "keyUp", "text": ""}))


def label_items(page: Browser, verdicts: list[str], times: int = 1) -> list[tuple[str, str]]:
    """Give one verdict per item shown, by clicking its button (`times` in a row); the items
    labelled, in order."""
    done = []
    for verdict in verdicts:
        before = wait_for(page, lambda s: s["item"] is not None, "an item to label")
        click(page, VERDICTS[verdict], times=times)
        wait_for(page, lambda s, n=before["given"] + 1: s["given"] == n, f"{len(done) + 1} labels")
        done.append(before["item"])
    return done


def store_labels(page: Browser, expect: str) -> dict:
    """Click "Store labels" and wait for the alert that starts with `expect`."""
    click(page, "Store labels")
    return wait_for(page, lambda s: any(a.startswith(expect) for a in s["alerts"]),
                    f"the alert {expect!r}")  # fmt: skip


def stored(settings) -> Counter:
    with reader(settings.database) as con:
        return Counter({(n, s, v): c for n, s, v, c in label_counts(con)})


def new_files(settings, before: set[Path]) -> list[Path]:
    return [p for p in journal_files(settings.labels_dir) if p not in before]


@pytest.mark.slow
def test_twenty_labels_clicked_in_the_browser_are_stored(served, browser):  # noqa: F811
    settings, _, base = served
    files_before = set(journal_files(settings.labels_dir))
    counts_before = stored(settings)
    verdicts = list(itertools.islice(itertools.cycle(VERDICTS), 20))

    page = open_review(browser, base)
    labelled = label_items(page, verdicts)
    assert len(set(labelled)) == 20, labelled  # no item served twice in the session
    state = page_state(page)
    assert (state["given"], state["waiting"]) == (20, 20), state
    page.screenshot(SHOTS / "review.png")

    state = store_labels(page, "Stored 20 new label(s)")
    assert (state["given"], state["waiting"]) == (20, 0), state

    # the database file holds the 20 verdicts, as clicked, in the audit stream
    new = stored(settings) - counts_before
    assert sum(new.values()) == 20 and {k[1] for k in new} == {"audit"}, new
    assert Counter(v for _, _, v in new.elements()) == Counter(verdicts)
    with reader(settings.database) as con:
        rows = all_labels(con)
        left = next_items(con, "audit", rows + journal_labels(settings.labels_dir), None, 1000)
        population = len(next_items(con, "audit", [], None, 1000))
    shown = {(n, h) for n, h in labelled}
    assert shown <= {(r["narrative_id"], r["document_hash"][:12]) for r in rows}
    # the session's journal file: one line per click
    (path,) = new_files(settings, files_before)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 20

    # a new session serves only what is left: skip through all of it
    open_review(page, base)
    served_again = []
    while (state := page_state(page))["item"] is not None:
        served_again.append(state["item"])
        click(page, "Skip")
        wait_for(page, lambda s, i=state["item"]: s["item"] != i, "the next item")
    assert any(a.startswith("Nothing left to review in the audit stream") for a in state["alerts"])
    assert not shown & set(served_again), shown & set(served_again)
    assert len(served_again) == len(left) == population - 20

    # each narrative's audit so far (10 labels) is too few: the Prevalence page says so
    lines = prevalence_lines(page, base)
    assert set(lines) == {n for n, _ in labelled}, lines
    assert all("corrected: none yet" in line for line in lines.values()), lines
    # the rest labelled too: every document of the event audited for every narrative, so the
    # corrected share is known exactly: the documents the analyst said assert it, of all
    open_review(page, base)
    label_items(page, ["asserts", "no"] * (len(left) // 2) + ["asserts"] * (len(left) % 2))
    store_labels(page, f"Stored {len(left)} new label(s)")
    with reader(settings.database) as con:
        rows = all_labels(con)
    lines = prevalence_lines(page, base)
    for nid, line in lines.items():
        asserted = sum(r["verdict"] == "asserts" for r in rows if r["narrative_id"] == nid)
        audited = sum(r["narrative_id"] == nid for r in rows)
        share = f"corrected {asserted / audited:.1%} (95% interval {asserted / audited:.1%} to"
        assert share in line and f"{audited} audit labels" in line, (line, asserted, audited)
    page.screenshot(SHOTS / "prevalence-corrected.png")


def prevalence_lines(page: Browser, base: str) -> dict[str, str]:
    """The Prevalence page's line per narrative about its raw and corrected share."""
    page.load("about:blank", "location.href === 'about:blank'")
    page.load(base + "prevalence", f"({IDLE}) && document.body.innerText.includes('; corrected')")
    texts = json.loads(page.eval(STATE))["texts"]
    return {t.split(":")[0]: t for t in texts if "; corrected" in t}


@pytest.mark.slow
def test_a_label_given_while_a_run_holds_the_database_waits_in_the_journal(served, browser):  # noqa: F811
    settings, _, base = served
    files_before = set(journal_files(settings.labels_dir))
    counts_before = stored(settings)
    page = open_review(browser, base, "uncertain")  # the first test audited every document
    # this test's process holds the writer, as a pipeline run would: the server cannot store
    with writer(settings.database, 5):
        (item,) = label_items(page, ["asserts"], times=2)  # a double click labels one item
        (path,) = new_files(settings, files_before)
        assert len(path.read_text(encoding="utf-8").splitlines()) >= 1  # saved at once
        state = store_labels(page, "A run holds the database: your labels are safe")
        assert (state["given"], state["waiting"]) == (1, 1), state
        assert len(path.read_text(encoding="utf-8").splitlines()) == 1
        page.screenshot(SHOTS / "review-database-busy.png")
    assert stored(settings) == counts_before  # nothing stored while the writer was held

    row = run_labels(settings)  # the next run, once the writer is free
    assert row["counts"]["labels_new"] == 1
    assert stored(settings) - counts_before == Counter({(item[0], "uncertain", "asserts"): 1})
    with reader(settings.database) as con:
        (label,) = [r for r in all_labels(con) if r["document_hash"].startswith(item[1])
                    and r["narrative_id"] == item[0] and r["stream"] == "uncertain"]  # fmt: skip
    assert label["verdict"] == "asserts" and label["who"] == (
        os.environ.get("NARRATIVES_REVIEWER") or "analyst"
    )
    # the page, reloaded, reads the snapshot that run published: nothing waits any more
    state = wait_for(open_review(page, base, "uncertain"), lambda s: s["waiting"] is not None,
                     "its counter")  # fmt: skip
    assert state["waiting"] == 0 and state["item"] != item, state
    if state["item"] is not None:  # the keyboard: S skips, 1 to 5 give the verdicts
        for attempt in range(3):  # a key typed while the page binds its shortcuts may be lost
            press(page, "S")
            try:
                wait_for(page, lambda s: s["item"] != state["item"], "the next item", 5)
                break
            except TimeoutError:
                assert attempt < 2, "the S key did not skip the item"
