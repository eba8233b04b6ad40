"""Prevalence from the rollup the aggregate step writes, and back to the live views as soon as
anything it was computed from changes."""

from narratives import pipeline
from narratives.core.store import reader, writer
from narratives.prevalence import rollup
from narratives.prevalence.queries import prevalence


def _cell(table, narrative: str, lang: str, period) -> int:
    headers, rows = table
    row = next(r for r in rows if r[0] == period and r[1] == narrative)
    return row[headers.index(f"{lang}_docs")]


def test_prevalence_reads_the_rollup_until_the_matches_change(mini_settings, hashing_embedder):
    run = pipeline.run_pipeline(mini_settings, hashing_embedder)
    assert run["counts"]["prevalence_rollup_rows"] > 0
    with reader(mini_settings.database) as con:
        assert rollup.prevalence_source(con) == rollup.TABLE
        from_rollup = prevalence(con, "week")
        # the rollup holds exactly the rows of the live views (per language and across them)
        for a, b in ((rollup.TABLE, rollup.LIVE), (rollup.LIVE, rollup.TABLE)):
            assert con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})"
            ).fetchall() == [(0,)]
        # a passage not confirmed for a narrative, in a document that carries it nowhere
        pid, nid, lang, week = con.execute(
            """SELECT m.passage_id, m.narrative_id, f.lang, date_trunc('week', f.day)::DATE
               FROM matches m JOIN passage_facts f ON f.passage_id = m.passage_id
               WHERE m.decision <> 'confirmed' AND NOT EXISTS (
                   SELECT 1 FROM live_matches c WHERE c.document_id = f.document_id
                   AND c.narrative_id = m.narrative_id AND c.decision = 'confirmed')
               ORDER BY m.passage_id, m.rank LIMIT 1"""
        ).fetchall()[0]
    # an analyst's change made outside the pipeline: the rollup is stale and is not used
    with writer(mini_settings.database) as con:
        con.execute(
            "UPDATE matches SET decision = 'confirmed', stance = 'asserts' "
            "WHERE passage_id = ? AND narrative_id = ?",
            [pid, nid],
        )
    with reader(mini_settings.database) as con:
        assert rollup.prevalence_source(con) == rollup.LIVE
        live = prevalence(con, "week")
    # exactly that week's count moves by one document, in its language and in the total
    for code in (lang, "all"):
        assert _cell(live, nid, code, week) == _cell(from_rollup, nid, code, week) + 1
    changed = [(a, b) for a, b in zip(live[1], from_rollup[1], strict=True) if a != b]
    assert len(changed) == 1
    # the next run brings the rollup back in step, without new documents
    pipeline.run_pipeline(mini_settings, hashing_embedder)
    with reader(mini_settings.database) as con:
        assert rollup.prevalence_source(con) == rollup.TABLE
        assert prevalence(con, "week") == live
