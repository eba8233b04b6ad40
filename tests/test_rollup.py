"""Prevalence from the rollup the aggregate step writes, and back to the live view as soon as
anything it was computed from changes."""

from narratives import pipeline, rollup
from narratives.queries import prevalence
from narratives.store import reader, writer


def test_prevalence_reads_the_rollup_until_the_matches_change(mini_settings, hashing_embedder):
    run = pipeline.run_pipeline(mini_settings, hashing_embedder)
    assert run["counts"]["prevalence_rollup_rows"] > 0
    with reader(mini_settings.database) as con:
        assert rollup.prevalence_source(con) == rollup.TABLE
        from_rollup = prevalence(con, "week")
        assert con.execute(
            "SELECT count(*) FROM (SELECT * FROM prevalence_rollup EXCEPT SELECT * FROM prevalence_daily)"
        ).fetchall() == [(0,)]
    # an analyst's change made outside the pipeline: the rollup is stale and is not used
    with writer(mini_settings.database) as con:
        pid, nid = con.execute(
            "SELECT passage_id, narrative_id FROM matches WHERE decision <> 'confirmed' "
            "ORDER BY passage_id, rank LIMIT 1"
        ).fetchall()[0]
        con.execute(
            "UPDATE matches SET decision = 'confirmed' WHERE passage_id = ? AND narrative_id = ?",
            [pid, nid],
        )
    with reader(mini_settings.database) as con:
        assert rollup.prevalence_source(con) == rollup.VIEW
        live = prevalence(con, "week")
    assert sum(r[-2] for r in live[1]) >= sum(r[-2] for r in from_rollup[1])
    # the next run brings the rollup back in step, without new documents
    pipeline.run_pipeline(mini_settings, hashing_embedder)
    with reader(mini_settings.database) as con:
        assert rollup.prevalence_source(con) == rollup.TABLE
        assert prevalence(con, "week") == live
