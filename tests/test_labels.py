"""Analysts' labels end to end on a real database (the mini corpus, the real e5 model): the
review CLI driven through its real stdin, the journal that a running pipeline never blocks,
labels that survive re-runs and a new set version, export/import, and the head retrained with
the labelled passages."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from narratives.core.store import reader, writer
from narratives.labels.inbox import Journal, files
from narratives.labels.model import now
from narratives.labels.queries import all_labels, audit_rows, label_counts
from narratives.labels.queue import label_for, next_items
from narratives.pipeline import run_labels, run_pipeline
from tests import dashboard_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def built(tmp_path, e5):
    settings, _ = dashboard_db.build(tmp_path, e5)
    return settings


def cli(settings, *args, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed command in a process of its own, its stdin a real pipe."""
    cmd = [sys.executable, "-m", "narratives", "--home", str(settings.home),
           "--db", str(settings.database), *args]  # fmt: skip
    environ = os.environ | {"NARRATIVES_PROGRESS": "false"} | (env or {})
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT,
                          env=environ, timeout=300)  # fmt: skip


def stored(settings) -> list[dict]:
    with reader(settings.database) as con:
        return all_labels(con)


def test_twenty_labels_from_the_keyboard_are_stored_and_never_served_again(built):
    settings = built
    answers = "a\nn\nx\nr\np\n" * 4  # 20 verdicts, one letter and Enter each
    out = cli(settings, "review", "--stream", "audit", "--limit", "20", "--who", "ann",
              stdin=answers)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "[audit 20/20]" in out.stdout and "stored 20 new label(s)" in out.stdout
    labels = stored(settings)
    assert len(labels) == 20
    assert {r["verdict"] for r in labels} == {"asserts", "no", "none", "refutes", "reports"}
    assert {r["who"] for r in labels} == {"ann"} and {r["stream"] for r in labels} == {"audit"}
    # both strata of each narrative's audit are drawn, and each label names its design
    assert {r["stratum"] for r in labels} == {"counted", "not-counted"}
    assert all(0 < r["stratum_share"] <= 1 for r in labels)
    # resumable: the next session starts with items not labelled yet
    with reader(settings.database) as con:
        again = next_items(con, "audit", labels, n=50)
    seen = {(r["narrative_id"], r["document_hash"]) for r in labels}
    assert again and not seen & {(i["narrative_id"], i["document_hash"]) for i in again}
    # an unknown narrative is an error naming the valid ones, not a queue for it
    out = cli(settings, "review", "--narrative", "nope", stdin="a\n")
    assert out.returncode == 2 and "unknown narrative 'nope'" in out.stderr
    assert "ukraine-involved" in out.stderr and len(stored(settings)) == 20
    # a quit mid-way keeps what was given; a wrong key asks again
    out = cli(settings, "review", "--limit", "5", "--who", "bo", stdin="?\nn\nq\n")
    assert out.returncode == 0 and "one letter" in out.stdout
    assert len(stored(settings)) == 21


def _hold_writer(path: str, ready, release) -> None:
    with writer(path):
        ready.set()
        release.wait(120)


def test_a_label_given_while_a_run_holds_the_database_waits_in_the_journal(built):
    settings = built.replace(lock_wait_s=1.0)
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_writer, args=(str(settings.database), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        out = cli(settings, "review", "--limit", "3", "--who", "cy", stdin="n\nn\nn\n")
        assert out.returncode == 0, out.stderr
        assert "reviewing the snapshot" in out.stdout
        assert "safe in the journal" in out.stdout
        journal = b"".join(p.read_bytes() for p in files(settings.labels_dir))
        assert journal.count(b"\n") == 3
    finally:
        release.set()
        holder.join(60)
    assert stored(settings) == []
    row = run_labels(settings)
    assert row["counts"]["labels_new"] == 3 and len(stored(settings)) == 3
    assert run_labels(settings)["counts"]["labels_new"] == 0  # idempotent


def test_labels_survive_reruns_and_a_new_set_version_and_round_trip_as_jsonl(built, e5, tmp_path):
    settings = built
    with reader(settings.database) as con:
        items = next_items(con, "audit", [], n=6)
    journal = Journal(settings.labels_dir, "dee")
    for item in items:
        journal.append(label_for(item, "asserts" if item["stratum"] == "counted" else "no",
                                 "dee", now()))  # fmt: skip
    run_pipeline(settings, e5)  # the run stores the journal first
    assert len(stored(settings)) == 6
    run_pipeline(settings, e5)  # a re-run changes nothing
    assert len(stored(settings)) == 6
    # a new version of the set: the labels stay, and still find their documents
    changed = tmp_path / "mini-set-v2.yaml"
    text = (dashboard_db.DATA / "mini-set.yaml").read_text(encoding="utf-8")
    changed.write_text(text.replace("title:", "title: (v2)", 1), encoding="utf-8")
    v2 = settings.replace(narrative_set=changed)
    run_pipeline(v2, e5)
    with reader(v2.database) as con:
        versions = con.execute("SELECT count(DISTINCT set_version) FROM narratives").fetchall()
        rows = audit_rows(con, "mini")
    assert versions[0][0] == 2 and len(rows) == 6
    # export, import into another database: the same labels; importing again adds none
    export = tmp_path / "labels.jsonl"
    assert cli(v2, "labels", "export", str(export)).returncode == 0
    assert len(export.read_text("utf-8").splitlines()) == 6
    other = settings.replace(home=tmp_path / "other", db_path=None)
    for _ in range(2):
        out = cli(other, "labels", "import", str(export))
        assert out.returncode == 0, out.stderr
    with reader(other.database) as con:
        assert sum(r[3] for r in label_counts(con)) == 6


def test_the_head_learns_from_labelled_passages_and_the_run_says_how_many(built, e5):
    settings = built
    with reader(settings.database) as con:
        items = next_items(con, "uncertain", [], n=12)
        before = dict(con.execute(
            "SELECT passage_id || ':' || narrative_id, decision FROM live_matches").fetchall())  # fmt: skip
    assert len(items) == 12
    journal = Journal(settings.labels_dir, "eve")
    # the analyst says the confirmed ones do not speak of the narrative, the others do
    verdicts = {}
    for item in items:
        v = "no" if item["decision"] == "confirmed" else "asserts"
        verdicts[f"{item['passage_id']}:{item['narrative_id']}"] = v
        journal.append(label_for(item, v, "eve", now()))
    row = run_pipeline(settings, e5)
    counts = row["counts"]
    assert sum(counts["labels_used"].values()) == 12 and counts["rescored_for_labels"] > 0
    with reader(settings.database) as con:
        after = dict(con.execute(
            "SELECT passage_id || ':' || narrative_id, decision FROM live_matches").fetchall())  # fmt: skip
    moved = [k for k, v in verdicts.items()
             if (before[k] == "confirmed") != (after[k] == "confirmed")]  # fmt: skip
    toward = [k for k in moved if (after[k] == "confirmed") == (verdicts[k] == "asserts")]
    assert moved and toward == moved  # every decision that changed moved toward the label
    # the same labels again: nothing is scored again
    assert run_pipeline(settings, e5)["counts"]["rescored_for_labels"] == 0


def test_bad_lines_are_skipped_with_a_message_and_a_line_being_written_waits(built):
    settings = built
    with reader(settings.database) as con:
        item = next_items(con, "audit", [], n=1)[0]
    good = json.dumps(label_for(item, "no", "fay", now()))
    late = json.dumps(label_for(item, "asserts", "fay", now()))
    settings.labels_dir.mkdir(parents=True, exist_ok=True)
    path = settings.labels_dir / "by-hand.jsonl"
    path.write_text("not json\n" + json.dumps({"verdict": "maybe"}) + "\n" + good + "\n"
                    + late[:20], encoding="utf-8")  # fmt: skip
    counts = run_labels(settings)["counts"]
    assert counts["labels_new"] == 1 and counts["label_problems"] == 2
    with open(path, "a", encoding="utf-8") as f:  # the writer finishes its line
        f.write(late[20:] + "\n")
    counts = run_labels(settings)["counts"]
    assert counts["labels_new"] == 1 and counts["label_problems"] == 0
    assert len(stored(settings)) == 2


def test_stance_verdicts_teach_the_stance_head(built, e5):
    settings = built
    with reader(settings.database) as con:
        items = [i for i in next_items(con, "uncertain", [], n=40) if i["stance"] == "asserts"][:4]
    assert len(items) == 4
    journal = Journal(settings.labels_dir, "gil")
    for item in items:
        journal.append(label_for(item, "refutes", "gil", now()))
    run_pipeline(settings, e5)
    with reader(settings.database) as con:
        after = {(r[0], r[1]): r[2] for r in con.execute(
            "SELECT passage_id, narrative_id, stance FROM live_matches").fetchall()}  # fmt: skip
    assert [after[(i["passage_id"], i["narrative_id"])] for i in items] == ["refutes"] * 4
