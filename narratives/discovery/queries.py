"""Reading clusters back: the latest clustering's list, and one cluster in detail."""

from __future__ import annotations


def list_clusters(
    con, clustering_id: int | None = None, scope: str = "all"
) -> tuple[int, list[tuple]]:
    if clustering_id is None:
        clustering_id = con.execute(
            "SELECT max(id) FROM clusterings WHERE scope = ?", [scope]
        ).fetchall()[0][0]
        if clustering_id is None:
            raise LookupError("no clusters yet; run `narratives discover` first")
    rows = con.execute(
        """WITH langs AS (
               SELECT m.cluster_id, count(*) FILTER (WHERE f.lang = 'en') AS en,
                      count(*) FILTER (WHERE f.lang = 'ru') AS ru,
                      count(*) FILTER (WHERE f.lang = 'uk') AS uk
               FROM cluster_members m JOIN passage_facts f ON f.passage_id = m.passage_id
               GROUP BY 1),
           terms AS (
               SELECT cluster_id, string_agg(term, ' ' ORDER BY lang, rank) AS terms
               FROM cluster_terms WHERE rank <= 3 GROUP BY 1)
           SELECT c.id, CASE WHEN c.status = 'matches' THEN 'matches ' || c.nearest_narrative
                             ELSE 'emerging' END,
                  c.size, c.documents, l.en, l.ru, l.uk, round(c.coherence, 2), c.nearest_narrative,
                  round(c.nearest_similarity, 3), round(c.confirmed_share, 2), c.first_day,
                  c.last_day, t.terms
           FROM clusters c LEFT JOIN langs l ON l.cluster_id = c.id
           LEFT JOIN terms t ON t.cluster_id = c.id
           WHERE c.clustering_id = ? ORDER BY c.status, c.size DESC""",
        [clustering_id],
    ).fetchall()
    return clustering_id, rows


def cluster_detail(con, cluster_id: int) -> dict:
    row = con.execute(
        "SELECT c.*, g.scope, g.window_start, g.window_end, g.set_id, g.set_version FROM clusters c "
        "JOIN clusterings g ON g.id = c.clustering_id WHERE c.id = ?",
        [cluster_id],
    ).fetchall()
    if not row:
        raise LookupError(f"no cluster {cluster_id}; `narratives clusters` lists them")
    cols = [d[0] for d in con.execute("SELECT c.*, g.scope, g.window_start, g.window_end, "
            "g.set_id, g.set_version FROM clusters c JOIN clusterings g ON g.id = c.clustering_id "
            "LIMIT 0").description]  # fmt: skip
    info = dict(zip(cols, row[0], strict=True))
    info["representatives"] = con.execute(
        "SELECT r.lang, r.rank, round(r.similarity, 3), f.outlet, f.day, p.text FROM cluster_representatives r "
        "JOIN passages p ON p.id = r.passage_id JOIN passage_facts f ON f.passage_id = r.passage_id "
        "WHERE r.cluster_id = ? ORDER BY r.lang, r.rank",
        [cluster_id],
    ).fetchall()
    info["terms"] = con.execute(
        "SELECT lang, string_agg(term, ', ' ORDER BY rank) FROM cluster_terms WHERE cluster_id = ? "
        "GROUP BY lang ORDER BY lang",
        [cluster_id],
    ).fetchall()
    info["sizes"] = con.execute(
        "SELECT lang, outlet, outlet_kind, passages, documents FROM cluster_sizes WHERE cluster_id = ? "
        "ORDER BY lang, passages DESC, outlet",
        [cluster_id],
    ).fetchall()
    return info


def latest_cluster_ids(con) -> list[int]:
    """The clusters of the latest clustering of all passages (older ones are superseded)."""
    return [r[0] for r in con.execute(
        "SELECT id FROM clusters WHERE clustering_id = "
        "(SELECT max(id) FROM clusterings WHERE scope = 'all') ORDER BY id"
    ).fetchall()]  # fmt: skip
