"""`narratives review` (label items one at a time from the keyboard) and `narratives labels`
(sync, list, export, import). Labels go to the label journal first (never blocked by a run);
the labels step stores them (narratives.labels)."""

from __future__ import annotations

import getpass
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from narratives.cli.output import add_format, emit

KEYS = {"a": "asserts", "y": "asserts", "r": "refutes", "p": "reports", "n": "no", "x": "none"}
PROMPT = (
    "verdict: [a]sserts/[y]es  [r]efutes  re[p]orts  [n]o  [x] none of these  [s]kip  [q]uit > "
)


def _who() -> str:
    return os.environ.get("NARRATIVES_REVIEWER") or getpass.getuser() or "analyst"


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "review", help="label items one at a time (keyboard): the uncertain or the audit stream"
    )
    add_common(p)
    p.add_argument("--stream", choices=["uncertain", "audit"], default="audit",
                   help="audit: random documents per narrative, to measure the tracker's error "
                   "(default); uncertain: passages nearest the threshold, to teach the head")  # fmt: skip
    p.add_argument("--narrative", help="one narrative id (default: every narrative in turn)")
    p.add_argument("--limit", type=int, default=20, help="items this session (default 20)")
    p.add_argument("--who", default=None, help="the reviewer's name (default $NARRATIVES_REVIEWER "
                   "or the login name)")  # fmt: skip
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("labels", help="analysts' labels: sync, list, export, import")
    add_common(p)
    lsub = p.add_subparsers(dest="labels_command", metavar="ACTION", required=True)
    s = lsub.add_parser("sync", help="store the labels waiting in the journal now")
    add_common(s)
    s.set_defaults(func=cmd_sync)
    s = lsub.add_parser("list", help="labels per narrative, stream and verdict")
    add_common(s)
    add_format(s)
    s.set_defaults(func=cmd_list)
    s = lsub.add_parser("export", help="every stored label as JSONL")
    add_common(s)
    s.add_argument("path", type=Path, help="the JSONL file to write ('-': standard output)")
    s.set_defaults(func=cmd_export)
    s = lsub.add_parser("import", help="labels from a JSONL file (an export of another database)")
    add_common(s)
    s.add_argument("path", type=Path)
    s.set_defaults(func=cmd_import)


@contextmanager
def _queue_reader(settings):
    """The database, read-only; while a run holds it, the last published snapshot."""
    from narratives.core.store import DatabaseBusy, reader
    from narratives.prevalence import snapshots

    try:
        with reader(settings.database, wait_s=0) as con:
            yield con, None
        return
    except DatabaseBusy:
        snap = snapshots.current(settings.snapshots_dir)
        if snap is None:
            raise
    with reader(snap.database) as con:
        yield con, snap


def _done_labels(con, settings) -> list[dict]:
    from narratives.labels.inbox import all_labels as journal
    from narratives.labels.queries import all_labels

    return all_labels(con) + journal(settings.labels_dir)


def _show(item: dict, i: int, n: int, out) -> None:
    where = ", ".join(str(x) for x in (item.get("outlet"), item.get("lang"), item.get("day")) if x)
    tracker = ("counted" if item.get("stratum") == "counted" else "not counted"
               ) if item["stream"] == "audit" else item.get("decision")  # fmt: skip
    score = item.get("score")
    score_txt = f", score {score:.2f}" if score is not None else ""
    print(
        f"\n[{item['stream']} {i}/{n}] {item['narrative_id']}: {item['narrative_label']}", file=out
    )
    print(f"  {item.get('title') or '(untitled)'} ({where})", file=out)
    print(f"  tracker: {tracker}{score_txt}, stance {item.get('stance') or '-'}", file=out)
    print("  " + " ".join(str(item.get("text") or "").split())[:700], file=out)


def cmd_review(args, settings) -> int:
    from narratives.labels.inbox import Journal
    from narratives.labels.model import now
    from narratives.labels.queue import label_for, next_items

    who = args.who or _who()
    from narratives.cli.checks import check_filters

    with _queue_reader(settings) as (con, snap):
        check_filters(con, args.narrative)
        items = next_items(con, args.stream, _done_labels(con, settings), args.narrative,
                           args.limit)  # fmt: skip
    if snap is not None:
        print(f"a run holds the database: reviewing the snapshot of run {snap.run_id}")
    if not items:
        print(f"nothing to review in the {args.stream} stream"
              + (f" for {args.narrative}" if args.narrative else ""))  # fmt: skip
        return 0
    journal, given = Journal(settings.labels_dir, who), 0
    for i, item in enumerate(items, 1):
        _show(item, i, len(items), sys.stdout)
        while True:
            print(PROMPT, end="", flush=True)
            answer = sys.stdin.readline()
            key = answer.strip().lower()[:1]
            if not answer or key == "q":
                return _finish(settings, given, journal)
            if key == "s" or key in KEYS:
                break
            print("  one letter: a, y, r, p, n, x, s or q")
        if key == "s":
            continue
        journal.append(label_for(item, KEYS[key], who, now()))
        given += 1
    return _finish(settings, given, journal)


def _finish(settings, given: int, journal) -> int:
    print(f"\n{given} label(s) saved in {journal.path}")
    if given:
        _sync(settings.replace(lock_wait_s=2.0))
    return 0


def _sync(settings) -> None:
    from narratives.core.store import DatabaseBusy
    from narratives.pipeline import run_labels

    try:
        row = run_labels(settings)
    except DatabaseBusy:
        print("a run holds the database: the labels are safe in the journal and will be stored "
              "by the next run or `narratives labels sync`")  # fmt: skip
        return
    c = row["counts"]
    print(f"stored {c['labels_new']} new label(s); {c['labels_total']} in all"
          + (f"; {c['label_problems']} bad line(s) skipped" if c["label_problems"] else ""))  # fmt: skip


def cmd_sync(args, settings) -> int:
    _sync(settings)
    return 0


def cmd_list(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.labels.queries import label_counts

    with reader(settings.database) as con:
        rows = label_counts(con)
    if not rows and args.format == "table":
        print("no labels yet: `narratives review` serves items to label")
        return 0
    emit(args, ["narrative", "stream", "verdict", "labels"], rows)
    return 0


def cmd_export(args, settings) -> int:
    import json

    from narratives.core.store import reader
    from narratives.labels.queries import all_labels

    with reader(settings.database) as con:
        rows = all_labels(con)
    lines = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    if str(args.path) == "-":
        sys.stdout.write(lines)
    else:
        args.path.write_text(lines, encoding="utf-8")
        print(f"{len(rows)} label(s) written to {args.path}", file=sys.stderr)
    return 0


def cmd_import(args, settings) -> int:
    from narratives.labels.inbox import Journal, read_from

    if not args.path.is_file():
        raise FileNotFoundError(f"no labels file {args.path}: give the path of a JSONL export")
    rows, problems, _ = read_from(args.path, whole=True)
    for p in problems:
        print(f"skipped: {p}", file=sys.stderr)
    journal = Journal(settings.labels_dir, f"import-{args.path.stem}")
    for row in rows:
        journal.append(row)
    print(f"{len(rows)} label(s) read from {args.path} into {journal.path}")
    _sync(settings)
    return 0
