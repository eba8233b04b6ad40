"""Read-side queries behind the CLI (and usable from notebooks): prevalence, narratives and their
evidence, agreement with gold labels. Each takes a read-only DuckDB connection; every value from
the user is a bound parameter."""

from __future__ import annotations

from dataclasses import dataclass

from narratives.rollup import prevalence_source

LANGS = ("en", "ru", "uk")


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


def prevalence(con, by: str = "week", narrative: str | None = None, lang: str | None = None,
               outlet_kind: str | None = None) -> tuple[list[str], list[tuple]]:  # fmt: skip
    """Documents with the narrative per period and language, with their share of all documents
    of that period and language (the denominator) and that share's 95% Wilson interval."""
    if by not in ("day", "week", "total"):
        raise ValueError(f"--by must be day, week or total, not {by!r}")
    if lang is not None and lang not in LANGS:
        raise ValueError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    period = {"day": "day", "week": "CAST(date_trunc('week', day) AS DATE)", "total": "'all'"}[by]
    langs = [lang] if lang else list(LANGS)
    cols = []
    for code in langs:
        cols.append(f"sum(matched_documents) FILTER (WHERE lang = '{code}') AS {code}_docs")
        cols.append(
            f"round(100.0 * sum(matched_documents) FILTER (WHERE lang = '{code}') / "
            f"nullif(sum(total_documents) FILTER (WHERE lang = '{code}'), 0), 1) AS {code}_pct"
        )
        cols.append(
            _interval(
                f"sum(matched_documents) FILTER (WHERE lang = '{code}')",
                f"sum(total_documents) FILTER (WHERE lang = '{code}')",
                f"{code}_ci95",
            )
        )
    sql = f"""
        SELECT {period} AS period, narrative_id, {", ".join(cols)},
               sum(matched_documents) AS all_docs,
               round(100.0 * sum(matched_documents) / nullif(sum(total_documents), 0), 1) AS all_pct,
               {_interval("sum(matched_documents)", "sum(total_documents)", "all_ci95")}
        FROM {prevalence_source(con)}
        WHERE ($narrative IS NULL OR narrative_id = $narrative)
          AND ($kind IS NULL OR outlet_kind = $kind)
        GROUP BY ALL ORDER BY period, narrative_id"""
    params = {"narrative": narrative, "kind": outlet_kind}
    cur = con.execute(sql, params)
    headers = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if narrative and not rows:
        known = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT narrative_id FROM prevalence_daily ORDER BY 1"
            ).fetchall()
        ]
        raise LookupError(
            f"no narrative {narrative!r} is tracked; known: {', '.join(known) or 'none'}"
        )
    docs = [i for i, h in enumerate(headers) if h.endswith("_docs")]
    return headers, [
        tuple(0 if (v is None and i in docs) else v for i, v in enumerate(row)) for row in rows
    ]


def _interval(matched: str, total: str, name: str) -> str:
    """The 95% Wilson interval of a share, in percent, as text like '12.5-30.1' (the macros
    come with migration 0004); empty where there is no denominator."""
    return (
        f"CASE WHEN coalesce({total}, 0) > 0 THEN printf('%.1f-%.1f', "
        f"100 * wilson_lo(coalesce({matched}, 0), {total}), "
        f"100 * wilson_hi(coalesce({matched}, 0), {total})) END AS {name}"
    )


def narratives_overview(con) -> tuple[list[str], list[tuple]]:
    cur = con.execute(
        """
        SELECT n.set_id, n.narrative_id, n.label, n.threshold,
               count(DISTINCT m.document_id) FILTER (WHERE m.lang = 'en') AS en_docs,
               count(DISTINCT m.document_id) FILTER (WHERE m.lang = 'ru') AS ru_docs,
               count(DISTINCT m.document_id) FILTER (WHERE m.lang = 'uk') AS uk_docs,
               count(DISTINCT m.passage_id) AS passages
        FROM narratives n
        JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
        LEFT JOIN live_matches m ON m.set_id = n.set_id AND m.narrative_id = n.narrative_id
             AND m.decision = 'confirmed'
        GROUP BY ALL ORDER BY n.set_id, n.narrative_id
        """
    )
    return [d[0] for d in cur.description], cur.fetchall()


def narrative_detail(con, narrative_id: str, per_lang: int = 3) -> dict:
    row = con.execute(
        "SELECT n.set_id, n.set_version, n.label, n.description, n.threshold FROM narratives n "
        "JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version WHERE n.narrative_id = ?",
        [narrative_id],
    ).fetchall()
    if not row:
        known = [r[0] for r in con.execute(
            "SELECT n.narrative_id FROM narratives n JOIN matchings l ON l.set_id = n.set_id "
            "AND l.set_version = n.set_version ORDER BY 1").fetchall()]  # fmt: skip
        raise LookupError(
            f"no narrative {narrative_id!r}; `narratives list` shows: {', '.join(known)}"
        )
    set_id, version, label, description, threshold = row[0]
    exemplars = con.execute(
        "SELECT lang, text FROM exemplars WHERE set_id = ? AND set_version = ? AND narrative_id = ? ORDER BY lang, seq",
        [set_id, version, narrative_id],
    ).fetchall()
    evidence = con.execute(
        """
        SELECT lang, score, margin, outlet, CAST(published_at AS DATE) AS day, passage_text, url
        FROM (SELECT *, row_number() OVER (PARTITION BY lang ORDER BY score DESC) AS r
              FROM live_matches WHERE narrative_id = ? AND decision = 'confirmed')
        WHERE r <= ? ORDER BY lang, score DESC
        """,
        [narrative_id, per_lang],
    ).fetchall()
    return {
        "set": f"{set_id}@{version}", "id": narrative_id, "label": label, "description": description,
        "threshold": threshold, "exemplars": exemplars, "evidence": evidence,
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


def gold_agreement(con, set_id: str | None = None) -> list[Agreement]:
    """Document-level decisions (a document has a narrative when one of its passages is
    confirmed) against the gold labels stored with a corpus, for each live narrative."""
    set_id, version, model_id = live_set(con, set_id)
    narratives = [r[0] for r in con.execute(
        "SELECT narrative_id FROM narratives WHERE set_id = ? AND set_version = ? ORDER BY 1", [set_id, version]
    ).fetchall()]  # fmt: skip
    docs = con.execute(
        """
        SELECT d.id, d.gold_labels,
               list(DISTINCT m.narrative_id) FILTER (WHERE m.narrative_id IS NOT NULL) AS predicted
        FROM documents d
        LEFT JOIN reprints r ON r.reprint_id = d.id  -- a reprint carries its original's passages
        LEFT JOIN passages p ON p.document_id = coalesce(r.original_id, d.id)
        LEFT JOIN matches m ON m.passage_id = p.id AND m.set_id = ? AND m.set_version = ?
             AND m.model_id = ? AND m.decision = 'confirmed'
        WHERE d.gold_labels IS NOT NULL
        GROUP BY d.id, d.gold_labels
        """,
        [set_id, version, model_id],
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
    return out
