"""Read queries of the match stage: the live set, the narratives with their evidence (`list`,
`show`), agreement with gold labels, and a stored set's texts. Each takes a DuckDB connection;
every value from the user is a bound parameter."""

from __future__ import annotations

from dataclasses import dataclass

from narratives.core.langs import TRACKED


def live_set(con, set_id: str | None = None) -> tuple[str, str, str]:
    """(set_id, set_version, model_id) that prevalence currently reads."""
    rows = con.execute(
        "SELECT set_id, set_version, model_id FROM matchings WHERE $set IS NULL OR set_id = $set ORDER BY updated_at DESC",
        {"set": set_id},
    ).fetchall()
    if not rows:
        raise LookupError(
            "nothing has been matched yet"
            + (f" for set {set_id!r}" if set_id else "")
            + "; run `narratives run` first"
        )
    return rows[0]


def set_texts(con, set_id: str, version: str) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """((narrative id, text) of every exemplar and description, {narrative: threshold}) of a
    stored set version."""
    rows = con.execute(
        "SELECT narrative_id, text FROM exemplars WHERE set_id = ? AND set_version = ? "
        "UNION ALL SELECT narrative_id, description FROM narratives WHERE set_id = ? AND set_version = ?",
        [set_id, version, set_id, version],
    ).fetchall()
    thresholds = dict(con.execute(
        "SELECT narrative_id, threshold FROM narratives WHERE set_id = ? AND set_version = ?",
        [set_id, version],
    ).fetchall())  # fmt: skip
    return rows, thresholds


# The rule that decided each live narrative: the scorer named by the run that matched it and the
# threshold its matches were compared with (kept on every match row). The set's own `threshold`
# (a cosine) decides only under the cosine scorers; the exemplar head compares a probability.
RULES = """
    SELECT *, scorer || ' >= ' || coalesce(CAST(round(threshold, 3) AS VARCHAR), '?') ||
              CASE WHEN scorer = 'exemplar-head' THEN ' (probability)' ELSE ' (cosine)' END
              AS decided_by
    FROM (
        SELECT n.set_id, n.set_version, n.narrative_id, n.label, n.description,
               n.threshold AS set_threshold,
               coalesce(json_extract_string(r.components, '$.scorer'), 'unknown') AS scorer,
               (SELECT max(m.threshold) FROM matches m WHERE m.set_id = l.set_id
                  AND m.set_version = l.set_version AND m.model_id = l.model_id
                  AND m.narrative_id = n.narrative_id) AS threshold
        FROM narratives n
        JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
        LEFT JOIN runs r ON r.id = l.run_id
    )
"""


def tracked_narratives(con) -> list[str]:
    """The ids of the live set's narratives."""
    return [r[0] for r in con.execute(
        "SELECT n.narrative_id FROM narratives n JOIN matchings l ON l.set_id = n.set_id "
        "AND l.set_version = n.set_version ORDER BY 1").fetchall()]  # fmt: skip


def narratives_overview(con) -> tuple[list[str], list[tuple]]:
    """The live narratives with the rule that decides them and their confirmed documents."""
    langs = ", ".join(
        f"count(DISTINCT m.document_id) FILTER (WHERE m.lang = '{code}') AS {code}_docs"
        for code in TRACKED
    )
    cur = con.execute(
        f"""
        WITH rules AS ({RULES})
        SELECT n.set_id, n.narrative_id, n.label, n.decided_by, {langs},
               count(DISTINCT m.passage_id) AS passages
        FROM rules n
        LEFT JOIN live_matches m ON m.set_id = n.set_id AND m.narrative_id = n.narrative_id
             AND m.carries
        GROUP BY ALL ORDER BY n.set_id, n.narrative_id
        """
    )
    return [d[0] for d in cur.description], cur.fetchall()


def narrative_detail(con, narrative_id: str, per_lang: int = 3) -> dict:
    row = con.execute(
        f"WITH rules AS ({RULES}) SELECT set_id, set_version, label, description, set_threshold, "
        "scorer, threshold, decided_by FROM rules WHERE narrative_id = ?",
        [narrative_id],
    ).fetchall()
    if not row:
        known = ", ".join(tracked_narratives(con))
        raise LookupError(f"no narrative {narrative_id!r}; `narratives list` shows: {known}")
    set_id, version, label, description, set_threshold, scorer, threshold, rule = row[0]
    exemplars = con.execute(
        "SELECT lang, text FROM exemplars WHERE set_id = ? AND set_version = ? AND narrative_id = ? ORDER BY lang, seq",
        [set_id, version, narrative_id],
    ).fetchall()
    # asserting evidence first, then what refutes it and what only reports it
    evidence = con.execute(
        """
        SELECT stance, lang, score, margin, outlet, CAST(published_at AS DATE) AS day,
               passage_text, url
        FROM (SELECT *, row_number() OVER (PARTITION BY stance, lang ORDER BY score DESC) AS r
              FROM live_matches WHERE narrative_id = ? AND decision = 'confirmed')
        WHERE r <= ?
        ORDER BY list_position(['asserts', 'refutes', 'reports'], stance), lang, score DESC
        """,
        [narrative_id, per_lang],
    ).fetchall()
    return {
        "set": f"{set_id}@{version}", "id": narrative_id, "label": label, "description": description,
        "scorer": scorer, "threshold": threshold, "set_threshold": set_threshold,
        "decided_by": rule, "exemplars": exemplars, "evidence": evidence,
    }  # fmt: skip


@dataclass
class Agreement:
    narrative: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


NONE = "(none)"  # the class of documents carrying none of the set's narratives


def gold_agreement(con, set_id: str | None = None, none_class: bool = False) -> list[Agreement]:
    """Document-level decisions (a document has a narrative when one of its passages is
    confirmed) against the gold labels stored with a corpus, for each live narrative; with
    `none_class`, one more row, `(none)`: documents with none of them, in gold and as counted
    (the class `narratives eval` also averages its macro-F1 over)."""
    set_id, version, model_id = live_set(con, set_id)
    narratives = [r[0] for r in con.execute(
        "SELECT narrative_id FROM narratives WHERE set_id = ? AND set_version = ? ORDER BY 1", [set_id, version]
    ).fetchall()]  # fmt: skip
    # a document carries a narrative when a passage is confirmed for it, in scope, and asserts
    # it (live_matches gives a reprint its original's passages)
    docs = con.execute(
        """
        SELECT d.id, d.gold_labels,
               list(DISTINCT m.narrative_id) FILTER (WHERE m.narrative_id IS NOT NULL) AS predicted
        FROM documents d
        LEFT JOIN live_matches m ON m.document_id = d.id AND m.set_id = ? AND m.carries
        WHERE d.gold_labels IS NOT NULL
        GROUP BY d.id, d.gold_labels
        """,
        [set_id],
    ).fetchall()
    if not docs:
        raise LookupError(
            "no stored document carries gold labels (gold_narratives); nothing to compare"
        )
    out = []
    for nid in narratives:
        tp = fp = fn = 0
        for _, gold, predicted in docs:
            g, p = nid in (gold or []), nid in (predicted or [])
            tp += g and p
            fp += p and not g
            fn += g and not p
        out.append(Agreement(nid, tp, fp, fn))
    if none_class:
        known = set(narratives)
        gold_none = [not known & set(gold or []) for _, gold, _ in docs]
        counted_none = [not known & set(predicted or []) for _, _, predicted in docs]
        pairs = list(zip(gold_none, counted_none, strict=True))
        out.append(Agreement(NONE, sum(g and p for g, p in pairs), sum(p and not g for g, p in pairs),
                             sum(g and not p for g, p in pairs)))  # fmt: skip
    return out


def stance_agreement(con, set_id: str | None = None) -> list[tuple]:
    """For documents whose corpus gave a gold stance (`gold_stance`: {narrative: refutes |
    reports}, kept in documents.meta): what the tracker made of each, per narrative and gold
    stance: (narrative, gold stance, documents, counted as carrying, confirmed with that stance,
    not confirmed). A refutation counted as carrying overstates the narrative."""
    set_id = live_set(con, set_id)[0]
    return con.execute(
        """
        WITH gold AS (
            SELECT d.id AS document_id, g.key AS narrative_id,
                   json_extract_string(g.value, '$') AS stance
            FROM documents d, json_each(d.meta->'gold_stance') g
            WHERE json_type(d.meta->'gold_stance') = 'OBJECT'
        ), got AS (
            SELECT document_id, narrative_id, bool_or(carries) AS carries,
                   list(DISTINCT stance) FILTER (WHERE decision = 'confirmed') AS stances
            FROM live_matches WHERE set_id = ? GROUP BY ALL
        )
        SELECT g.narrative_id, g.stance AS gold, count(*) AS documents,
               count(*) FILTER (WHERE t.carries) AS carrying,
               count(*) FILTER (WHERE list_contains(t.stances, g.stance)) AS same_stance,
               count(*) FILTER (WHERE coalesce(len(t.stances), 0) = 0) AS not_confirmed
        FROM gold g LEFT JOIN got t USING (document_id, narrative_id)
        GROUP BY ALL ORDER BY 1, 2
        """,
        [set_id],
    ).fetchall()


TIERS = ("confirmed", "suggested", "rejected", "out-of-scope")


def evidence(con, f, narratives=None, outlets=None, tiers=("confirmed",), limit: int = 5000):
    """The passages behind the numbers (an Arrow table): one row per passage and narrative it
    was scored for, with the nearest exemplar and the margin over the runner-up narrative.
    `f` is a `narratives.prevalence.queries.Filters`-like object with `params()`."""
    params = f.params() | {
        "narratives": list(narratives or []) or None,
        "outlets": list(outlets or []) or None,
        "tiers": list(tiers or []) or None,
        "limit": int(limit),
    }
    return con.sql(
        """SELECT narrative_id AS narrative, decision AS tier, score, margin, stance, lang, outlet,
                  outlet_kind, day, passage_text AS passage, url, title,
                  exemplar_text AS nearest_exemplar, exemplar_lang, rank, passage_id, document_id
           FROM live_matches
           WHERE ($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)
             AND ($langs IS NULL OR list_contains($langs, lang))
             AND ($kinds IS NULL OR list_contains($kinds, outlet_kind))
             AND ($narratives IS NULL OR list_contains($narratives, narrative_id))
             AND ($outlets IS NULL OR list_contains($outlets, outlet))
             AND ($tiers IS NULL OR list_contains($tiers, decision))
           ORDER BY score DESC, passage_id, narrative_id LIMIT $limit""",
        params=params,
    ).to_arrow_table()


def provenance(con) -> dict:
    """What produced the numbers: the live set version and model, the runs (newest first), the
    live narratives with the rule that decided them, and how many documents and passages."""

    def table(sql: str):
        return con.sql(sql).to_arrow_table()

    return {
        "live": table(
            """SELECT l.set_id, l.set_version, l.model_id, l.run_id, l.updated_at AS matched_at,
                      s.title, s.event_date, s.source_path
               FROM matchings l LEFT JOIN narrative_sets s
                 ON s.set_id = l.set_id AND s.version = l.set_version ORDER BY l.updated_at DESC"""
        ),
        "runs": table(
            """SELECT id AS run, kind, status, started_at, finished_at, model_id, set_id,
                      set_version, CAST(components AS VARCHAR) AS components,
                      CAST(parameters AS VARCHAR) AS parameters, CAST(counts AS VARCHAR) AS counts
               FROM runs ORDER BY id DESC LIMIT 50"""
        ),
        "narratives": table(
            f"""WITH rules AS ({RULES})
                SELECT set_id, narrative_id AS narrative, label, decided_by,
                       set_threshold, description
                FROM rules ORDER BY 1, 2"""
        ),
        "documents": con.execute("SELECT count(*) FROM documents").fetchall()[0][0],
        "passages": con.execute("SELECT count(*) FROM passages").fetchall()[0][0],
    }


def confirmed_for(con, passage_ids: list[int]) -> dict[int, str]:
    """passage id -> the live narratives it is confirmed for, with the stance ("ukraine-involved
    (asserts), ..."), for the passages among `passage_ids` confirmed for any."""
    if not passage_ids:
        return {}
    return dict(con.execute(
        "SELECT passage_id, string_agg(narrative_id || ' (' || coalesce(stance, '?') || ')', ', ' "
        "ORDER BY narrative_id) FROM live_matches WHERE decision = 'confirmed' "
        "AND passage_id IN (SELECT unnest(?)) GROUP BY 1",
        [list(passage_ids)],
    ).fetchall())  # fmt: skip
