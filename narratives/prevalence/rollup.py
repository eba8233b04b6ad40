"""Materialised prevalence: `prevalence_daily` (per language) and `prevalence_daily_all` (across
languages, lang = 'all') computed once per pipeline run into one table.

The views recompute coverage and hits from every passage and match on each query: over 10M
match rows that is seconds on two cores. The aggregate step writes the view's rows into
`prevalence_rollup` (a few thousand rows) and records a fingerprint of the tables it read:
their row counts and a hash of the confirmed matches. A reader takes the rollup only while the
fingerprint still matches, so a change made outside the pipeline (a decision reviewed, a
document added) is never hidden: prevalence falls back to the live view until the next run.
The table is recreated from the view each time, so it follows any later change of the view.
"""

from __future__ import annotations

from narratives.core.store import transaction

VIEW = "prevalence_daily"
TABLE = "prevalence_rollup"
# the live relation the rollup stands for: per-language rows and the 'all' rows together
LIVE = "(SELECT * FROM prevalence_daily UNION ALL SELECT * FROM prevalence_daily_all)"
COMMENT = (
    "internal: prevalence_daily and prevalence_daily_all materialised once per run; "
    "query the views, which are always current"
)


def fingerprint(con) -> str:
    """Cheap to compute (~50 ms over 10M match rows), changes with anything the view reads."""
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM passages), (SELECT count(*) FROM documents),
               (SELECT coalesce(sum(hash(id, published_at)), 0) FROM documents),
               (SELECT coalesce(sum(hash(id, name, kind)), 0) FROM outlets),
               (SELECT coalesce(sum(hash(set_id, set_version, model_id, run_id)), 0) FROM matchings),
               (SELECT count(*) FROM narratives),
               (SELECT count(*) FROM matches),
               (SELECT coalesce(sum(hash(passage_id, set_id, set_version, model_id, narrative_id,
                                         stance)), 0)
                FROM matches WHERE decision = 'confirmed'),
               (SELECT coalesce(sum(hash(passage_id, set_id, set_version, model_id, term_hit,
                                         event_score, threshold)), 0) FROM passage_scope)
        """
    ).fetchall()[0]
    return ":".join(str(v) for v in row)


def refresh(con, run_id: int | None = None) -> int:
    """Recompute the rollup from the view (in the caller's write connection); returns its rows."""
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM {LIVE}")
        # replacing the table drops its comment; analysts read it in tables_guide (0010)
        con.execute(f"COMMENT ON TABLE {TABLE} IS '{COMMENT}'")
        con.execute(
            "INSERT OR REPLACE INTO rollup_state (name, fingerprint, run_id, refreshed_at) "
            "VALUES (?, ?, ?, current_timestamp)",
            [VIEW, fingerprint(con), run_id],
        )
    return con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]


def prevalence_source(con) -> str:
    """The relation to read daily prevalence from (per-language rows and lang = 'all' rows): the
    rollup when it is current, else the live views."""
    state = con.execute("SELECT fingerprint FROM rollup_state WHERE name = ?", [VIEW]).fetchall()
    if state and state[0][0] == fingerprint(con):
        return TABLE
    return LIVE
