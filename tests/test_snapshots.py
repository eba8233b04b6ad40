"""Published snapshots: what dashboards read, so a pipeline run and any number of readers never
wait for each other."""

from __future__ import annotations

import json

from narratives import pipeline
from narratives.core.store import reader, writer
from narratives.prevalence import snapshots


def _count(db, table: str) -> int:
    with reader(db) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_each_run_publishes_a_complete_snapshot_and_points_at_it(mini_settings, hashing_embedder):
    run = pipeline.run_pipeline(mini_settings, hashing_embedder)
    snap = snapshots.current(mini_settings.snapshots_dir)
    assert snap.run_id == run["id"]
    pointer = json.loads((mini_settings.snapshots_dir / "current.json").read_text())
    assert pointer["folder"] == snap.folder.name
    for table in ("documents", "passages", "matches", "embeddings", "runs"):
        assert _count(snap.database, table) == _count(mini_settings.database, table)
    assert sorted(p.name for p in snap.index_dir.iterdir()) == sorted(
        p.name for p in mini_settings.index_dir.iterdir()
    )
    assert not list(mini_settings.snapshots_dir.glob(".*tmp")) and not list(
        mini_settings.snapshots_dir.glob(".building-*")
    )


def test_old_snapshots_are_pruned_but_a_reader_holding_one_keeps_reading(
    mini_settings, hashing_embedder
):
    settings = mini_settings.replace(snapshot_keep=2)
    pipeline.run_pipeline(settings, hashing_embedder)
    first = snapshots.current(settings.snapshots_dir)
    inode = first.database.stat().st_ino
    with reader(first.database) as held:  # a dashboard query on the first snapshot
        for _ in range(3):
            run = pipeline.run_pipeline(settings, hashing_embedder)  # never blocked by it
            assert run["status"] == "ok"
        assert held.execute("SELECT count(*) FROM documents").fetchall()[0][0] == 12
    folders = sorted(p for p in settings.snapshots_dir.iterdir() if p.is_dir())
    # the file it held was the one to recycle (the oldest), yet never written: copied instead
    assert all((p / snapshots.DB_NAME).stat().st_ino != inode for p in folders)
    assert len(folders) == 2 and not first.folder.exists()
    assert snapshots.current(settings.snapshots_dir).run_id == run["id"]


def test_a_half_built_snapshot_is_never_current(mini_settings, hashing_embedder):
    pipeline.run_pipeline(mini_settings, hashing_embedder)
    good = snapshots.current(mini_settings.snapshots_dir)
    leftover = mini_settings.snapshots_dir / ".building-00000000T000000000000Z"
    leftover.mkdir()  # a publish killed half-way
    with writer(mini_settings.database) as con:
        snapshots.publish(
            con, mini_settings.database, mini_settings.index_dir, mini_settings.snapshots_dir, None
        )
    assert not leftover.exists()
    assert snapshots.current(mini_settings.snapshots_dir).folder != good.folder


def test_no_snapshot_yet_reads_as_none(tmp_path):
    assert snapshots.current(tmp_path / "snapshots") is None


# -- publishing incrementally: a recycled snapshot must hold exactly what the database holds --


def _differences(db, snap) -> dict:
    """Every table (and the schema) of the database against the snapshot: rows in one and not
    the other, counted both ways with EXCEPT ALL (so duplicates count too); {} when equal."""
    import duckdb

    from narratives.prevalence import snapshot_sync

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{snap}' AS b (READ_ONLY)")
        out = {}
        if snapshot_sync._catalog(con, "a") != snapshot_sync._catalog(con, "b"):
            out["schema"] = "differs"
        # where the sequences stand: a snapshot copied back as the database draws new ids
        seqs = [con.execute("SELECT sequence_name, last_value FROM duckdb_sequences() "
                            "WHERE database_name = ? ORDER BY 1", [db]).fetchall()
                for db in ("a", "b")]  # fmt: skip
        if seqs[0] != seqs[1]:
            out["sequences"] = seqs
        for table in snapshot_sync._tables(con, "a"):
            n = con.execute(
                f'SELECT (SELECT count(*) FROM (FROM a."{table}" EXCEPT ALL FROM b."{table}")), '
                f'(SELECT count(*) FROM (FROM b."{table}" EXCEPT ALL FROM a."{table}"))'
            ).fetchall()[0]
            if n != (0, 0):
                out[table] = n
        return out
    finally:
        con.close()


def _publish(settings) -> snapshots.Snapshot:
    with writer(settings.database) as con:
        return snapshots.publish(con, settings.database, settings.index_dir,
                                 settings.snapshots_dir, None, keep=settings.snapshot_keep)  # fmt: skip


def _corpus(tmp_path, *names) -> object:
    from tests.conftest import DATA

    path = tmp_path / ("-".join(names) + ".jsonl")
    path.write_text("".join((DATA / n).read_text(encoding="utf-8") for n in names), "utf-8")
    return path


def test_runs_after_the_first_two_refresh_an_old_snapshot_which_then_holds_exactly_the_database(
    mini_settings, hashing_embedder, tmp_path, monkeypatch
):
    from narratives.labels.inbox import Journal
    from narratives.labels.model import now
    from narratives.labels.queue import label_for, next_items
    from narratives.prevalence import snapshot_sync

    # the tiny corpora grow by half and more per run: refresh however far behind (the guard
    # that copies instead has a test of its own)
    monkeypatch.setattr(snapshot_sync, "MAX_LAG", 1.0)
    settings = mini_settings.replace(snapshot_keep=2)
    inodes = []

    def run(corpus_settings) -> dict:
        row = pipeline.run_pipeline(corpus_settings, hashing_embedder)
        snap = snapshots.current(settings.snapshots_dir)
        assert _differences(settings.database, snap.database) == {}
        inodes.append(snap.database.stat().st_ino)
        return row

    run(settings)  # the first two are full copies: there is no old snapshot to reuse yet
    bigger = settings.replace(corpus=_corpus(tmp_path, "mini-corpus.jsonl", "scope-corpus.jsonl"))
    assert run(bigger)["counts"]["documents_new"] > 0  # appended rows
    with reader(settings.database) as con:
        items = next_items(con, "uncertain", [], n=6)
    assert items
    journal = Journal(settings.labels_dir, "eve")
    for item in items:
        journal.append(label_for(item, "no" if item["decision"] == "confirmed" else "asserts",
                                 "eve", now()))  # fmt: skip
    assert run(bigger)["counts"]["rescored_for_labels"] > 0  # matches deleted and scored again
    run(bigger.replace(corpus=_corpus(tmp_path, "spread-corpus.jsonl")))
    # runs 3 and 4 reused the files of runs 1 and 2: written in place, not copied
    assert inodes[2] == inodes[0] and inodes[3] == inodes[1] and len(set(inodes)) == 2
    folders = sorted(p for p in settings.snapshots_dir.iterdir() if p.is_dir())
    assert len(folders) == 2 and not list(settings.snapshots_dir.glob(".building-*"))
    index = snapshots.current(settings.snapshots_dir).index_dir
    for f in settings.index_dir.iterdir():  # hard links to the live index files, the same bytes
        assert (index / f.name).read_bytes() == f.read_bytes()


def test_deletions_a_schema_change_and_a_reader_of_the_current_snapshot(
    mini_settings, hashing_embedder
):
    settings = mini_settings.replace(snapshot_keep=2)
    pipeline.run_pipeline(settings, hashing_embedder)
    first = _publish(settings)
    assert first.how == "copy"
    with reader(first.database) as held:  # the current snapshot: never the one refreshed
        with writer(settings.database) as con:
            # rows deleted with nothing in their place, which the counts reveal: a matched
            # passage's rows, a document (taken whole), a run row changed
            con.execute("DELETE FROM matches WHERE passage_id = (SELECT min(passage_id) "
                        "FROM matches)")  # fmt: skip
            con.execute("DELETE FROM minhash_bands WHERE document_id = (SELECT max(id) "
                        "FROM documents)")  # fmt: skip
            con.execute("UPDATE runs SET error = 'noted' WHERE id = (SELECT min(id) FROM runs)")
        second = _publish(settings)
        assert second.how == "incremental"
        assert _differences(settings.database, second.database) == {}
        assert held.execute("SELECT count(*) FROM documents").fetchall()[0][0] == 12
    with writer(settings.database) as con:  # as a migration would
        con.execute("CREATE TABLE later_stage (x INTEGER)")
        con.execute("COMMENT ON TABLE passages IS 'a new comment'")
    third = _publish(settings)
    assert third.how == "copy"  # another schema: a full copy
    assert _differences(settings.database, third.database) == {}
    assert not list(settings.snapshots_dir.glob(".building-*"))


def test_with_keep_one_every_publish_is_a_full_copy(mini_settings, hashing_embedder):
    settings = mini_settings.replace(snapshot_keep=1)
    pipeline.run_pipeline(settings, hashing_embedder)
    assert _publish(settings).how == "copy"  # the only snapshot is the current one
    assert len([p for p in settings.snapshots_dir.iterdir() if p.is_dir()]) == 1


def test_a_snapshot_far_behind_or_a_damaged_pointer_gets_a_full_copy(
    mini_settings, hashing_embedder, monkeypatch
):
    from narratives.prevalence import snapshot_sync

    settings = mini_settings.replace(snapshot_keep=2)
    pipeline.run_pipeline(settings, hashing_embedder)
    _publish(settings)
    with writer(settings.database) as con:  # one new corpus row: a lag of a few per mille
        con.execute("INSERT INTO minhash_bands VALUES (999, 999, (SELECT max(id) FROM documents))")
    monkeypatch.setattr(snapshot_sync, "MAX_LAG", 0.0)  # any lag is too much: copy
    snap = _publish(settings)
    assert snap.how == "copy" and _differences(settings.database, snap.database) == {}
    monkeypatch.undo()
    (settings.snapshots_dir / "current.json").write_text("{not json")
    snap = _publish(settings)  # the pointer names no snapshot: none is touched, one is copied
    assert snap.how == "copy" and snapshots.current(settings.snapshots_dir).folder == snap.folder
    assert _publish(settings).how == "incremental"  # and the next is incremental again


def test_a_reader_in_another_process_keeps_its_snapshot_from_being_refreshed(
    mini_settings, hashing_embedder
):
    import subprocess
    import sys

    settings = mini_settings.replace(snapshot_keep=2)
    pipeline.run_pipeline(settings, hashing_embedder)
    oldest = _publish(settings)
    _publish(settings)  # `oldest` is now the one the next publish would recycle
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('SELECT count(*) FROM documents').fetchall()[0][0], flush=True); "
            "sys.stdin.read(); print(c.execute('SELECT count(*) FROM documents').fetchall()[0][0])")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code, str(oldest.database)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "12"  # it holds the file open
        snap = _publish(settings)
        assert snap.how == "copy" and _differences(settings.database, snap.database) == {}
        out, _ = proc.communicate("", timeout=30)
        assert out.strip() == "12" and proc.returncode == 0  # still reading its own file
    finally:
        proc.kill()
    assert _publish(settings).how == "incremental"  # with the reader gone
