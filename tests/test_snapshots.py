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
    with reader(first.database) as held:  # a dashboard query on the first snapshot
        for _ in range(3):
            run = pipeline.run_pipeline(settings, hashing_embedder)  # never blocked by it
            assert run["status"] == "ok"
        assert held.execute("SELECT count(*) FROM documents").fetchall()[0][0] == 12
    folders = sorted(p for p in settings.snapshots_dir.iterdir() if p.is_dir())
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
