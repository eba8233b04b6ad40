"""Reads of the labels: what the head learns from, what each narrative's audit says, counts.

A later verdict by anyone on the same item, narrative and stream supersedes an earlier one
(an analyst correcting a slip); every verdict stays stored."""

from __future__ import annotations

import hashlib

import numpy as np

from narratives.labels.model import SPEAKS_OF
from narratives.matching.bank import LabelledExamples

# the latest verdict per item, narrative and stream (of one set, or of all with $set NULL)
CURRENT = """
    SELECT * FROM labels WHERE $set IS NULL OR set_id = $set
    QUALIFY row_number() OVER (
        PARTITION BY narrative_id, stream, item_kind, document_hash, coalesce(passage_hash, '')
        ORDER BY labelled_at DESC, label_id DESC) = 1
"""


def all_labels(con, set_id: str | None = None) -> list[dict]:
    """Every stored label (of one set, or all), oldest first: what `labels export` writes."""
    cur = con.execute(
        "SELECT * EXCLUDE (stored_at) FROM labels WHERE $set IS NULL OR set_id = $set "
        "ORDER BY labelled_at, label_id",
        {"set": set_id},
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def training_examples(con, set_id: str, model_id: str) -> LabelledExamples | None:
    """The passages analysts labelled outside the audit, with their vectors under `model_id`,
    as the heads' extra examples: a verdict that speaks of the narrative (asserts, refutes,
    reports) is a positive for it, `no` a negative for it alone, `none` a negative for all; and
    the stance verdicts teach the stance head."""
    rows = con.execute(
        f"""
        WITH current AS ({CURRENT})
        SELECT c.label_id, c.narrative_id, c.verdict, e.vector,
               (SELECT any_value(p.text) FROM passages p WHERE p.text_hash = c.passage_hash),
               c.document_hash
        FROM current c JOIN embeddings e ON e.text_hash = c.passage_hash AND e.model_id = $model
        WHERE c.item_kind = 'passage' AND c.stream <> 'audit'
        ORDER BY c.label_id
        """,
        {"set": set_id, "model": model_id},
    ).fetchall()
    if not rows:
        return None
    verdicts = [r[2] for r in rows]
    counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    return LabelledExamples(
        vectors=np.asarray([r[3] for r in rows], dtype=np.float32),
        narrative_ids=[r[1] for r in rows],
        positive=np.array([v in SPEAKS_OF for v in verdicts]),
        none=np.array([v == "none" for v in verdicts]),
        texts=[r[4] or "" for r in rows],
        verdicts=verdicts,
        documents=[r[5] for r in rows],
        counts=counts,
        fingerprint=hashlib.sha256("".join(r[0] for r in rows).encode()).hexdigest()[:16],
    )


def audit_rows(con, set_id: str, narrative: str | None = None) -> list[dict]:
    """Each narrative's audit labels with what the tracker decides of the document *now* (the
    head may have learnt since the item was served) and the design it was drawn under (its
    stratum and that stratum's share then). Documents no longer stored are left out."""
    cur = con.execute(
        f"""
        WITH current AS ({CURRENT}),
        docs AS (
            SELECT content_hash, min(id) AS document_id FROM documents GROUP BY 1
        ), counted AS (
            SELECT DISTINCT narrative_id, document_id FROM live_matches WHERE carries
        ), best AS (
            SELECT narrative_id, document_id, max(score) AS score FROM live_matches GROUP BY ALL
        )
        SELECT c.narrative_id, c.verdict, c.stratum, c.stratum_share, c.lang, c.day,
               k.document_id IS NOT NULL AS predicted, coalesce(b.score, 0) AS score,
               coalesce(s.in_scope, false) AS in_scope, d.document_id
        FROM current c JOIN docs d ON d.content_hash = c.document_hash
        LEFT JOIN counted k ON k.narrative_id = c.narrative_id AND k.document_id = d.document_id
        LEFT JOIN best b ON b.narrative_id = c.narrative_id AND b.document_id = d.document_id
        LEFT JOIN document_scope s ON s.set_id = c.set_id AND s.document_id = d.document_id
        WHERE c.stream = 'audit' AND ($n IS NULL OR c.narrative_id = $n)
        ORDER BY c.narrative_id, c.labelled_at
        """,
        {"set": set_id, "n": narrative},
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def label_counts(con, set_id: str | None = None) -> list[tuple]:
    """(narrative, stream, verdict, labels) of the current verdicts."""
    return con.execute(
        f"WITH current AS ({CURRENT}) "
        "SELECT narrative_id, stream, verdict, count(*) FROM current GROUP BY ALL ORDER BY ALL",
        {"set": set_id},
    ).fetchall()
