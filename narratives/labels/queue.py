"""The review queue: what to show an analyst next, in two streams kept apart.

- `uncertain`: passages whose score is nearest the scorer's decision threshold, in the event's
  scope. Their labels teach the head (the labels it learns most from); they never measure it.
- `audit`: documents drawn at random from the event's coverage, one narrative at a time,
  stratified by the tracker's decision: documents it counted for the narrative and documents it
  did not, in turns, so a rare narrative's audit still sees both. The order within a stratum is
  a hash of (document content, narrative): random, but the same in every session, so a review
  resumes where it stopped and two analysts draw the same sample. Languages and periods come
  in their proportion of the coverage. These labels measure the error rates prevalence is
  corrected with; they never train the head, so the error is measured on unseen items.

Each function takes a read-only connection (the database, or the published snapshot while a
run holds the database) and the labels given so far (stored and in the journal)."""

from __future__ import annotations

from collections import Counter

from narratives.matching.queries import tracked_narratives

STREAMS = ("uncertain", "audit")

_LIVE = (
    "SELECT set_id, set_version, model_id, run_id FROM matchings ORDER BY updated_at DESC LIMIT 1"
)


def live_set(con) -> dict | None:
    rows = con.execute(_LIVE).fetchall()
    if not rows:
        return None
    return dict(zip(("set_id", "set_version", "model_id", "run_id"), rows[0], strict=True))


def _labels_text(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT n.narrative_id, n.label FROM narratives n JOIN matchings l "
        "ON l.set_id = n.set_id AND l.set_version = n.set_version").fetchall())  # fmt: skip


def uncertain(con, done: set[tuple], narrative: str | None = None, n: int = 20) -> list[dict]:
    """The next `n` passages nearest their narrative's threshold, not labelled yet for it.
    `done`: (narrative_id, passage_hash) pairs labelled so far."""
    live = live_set(con)
    if live is None:
        return []
    names = _labels_text(con)
    rows = con.execute(
        """
        SELECT m.narrative_id, m.passage_id, m.document_id, p.text_hash, d.content_hash,
               m.passage_text, m.title, m.url, m.outlet, m.lang, m.day, m.score, m.threshold,
               m.decision, m.stance
        FROM live_matches m JOIN passages p ON p.id = m.passage_id
        JOIN documents d ON d.id = m.document_id
        WHERE m.in_scope AND ($narrative IS NULL OR m.narrative_id = $narrative)
        QUALIFY row_number() OVER (PARTITION BY m.narrative_id, p.text_hash
                                   ORDER BY m.passage_id) = 1
        ORDER BY abs(m.score - m.threshold), m.passage_id
        LIMIT $limit
        """,
        {"narrative": narrative, "limit": n + len(done)},
    ).fetchall()
    out = []
    for r in rows:
        if (r[0], r[3]) in done:
            continue
        out.append(live | {
            "stream": "uncertain", "item_kind": "passage", "narrative_id": r[0],
            "narrative_label": names.get(r[0], r[0]), "passage_id": r[1], "document_id": r[2],
            "passage_hash": r[3], "document_hash": r[4], "text": r[5], "title": r[6],
            "url": r[7], "outlet": r[8], "lang": r[9], "day": r[10], "score": r[11],
            "threshold": r[12], "decision": r[13], "stance": r[14], "stratum": None,
            "stratum_share": None,
        })  # fmt: skip
        if len(out) == n:
            break
    return out


def audit_population(con, narrative: str) -> list[dict]:
    """The event's documents in the audit's random order, each with whether the tracker counts
    it for `narrative` and its best passage for it."""
    rows = con.execute(
        """
        WITH counted AS (
            SELECT DISTINCT document_id FROM live_matches WHERE carries AND narrative_id = $n
        ), best AS (
            SELECT document_id, max(score) AS score, arg_max(passage_text, score) AS passage,
                   arg_max(stance, score) AS stance
            FROM live_matches WHERE narrative_id = $n GROUP BY 1
        )
        SELECT d.id, d.content_hash, d.title, d.url, d.text, d.lang, s.day, o.name,
               c.document_id IS NOT NULL AS counted, b.score, b.passage, b.stance
        FROM document_scope s JOIN matchings l ON l.set_id = s.set_id
        JOIN documents d ON d.id = s.document_id
        LEFT JOIN outlets o ON o.id = d.outlet_id
        LEFT JOIN counted c ON c.document_id = d.id
        LEFT JOIN best b ON b.document_id = d.id
        WHERE s.in_scope
        QUALIFY row_number() OVER (PARTITION BY d.content_hash ORDER BY d.id) = 1
        ORDER BY md5(d.content_hash || $n), d.id
        """,
        {"n": narrative},
    ).fetchall()
    keys = ("document_id", "document_hash", "title", "url", "document_text", "lang", "day",
            "outlet", "counted", "score", "text", "stance")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def audit(con, done: dict[tuple, str], narrative: str | None = None, n: int = 20) -> list[dict]:
    """The next `n` audit documents. `done`: (narrative_id, document_hash) -> the stratum of
    each document audited so far. Without `narrative`, the narrative with the fewest audit
    labels comes next each time, so every narrative's audit grows evenly."""
    live = live_set(con)
    if live is None:
        return []
    names = _labels_text(con)
    per = Counter(k[0] for k in done)
    draws = {nid: _AuditDraw(con, nid, done) for nid in
             ([narrative] if narrative else tracked_narratives(con))}  # fmt: skip
    out: list[dict] = []
    while len(out) < n:
        open_ = [nid for nid, d in draws.items() if d.left()]
        if not open_:
            break
        nid = min(open_, key=lambda x: (per[x], x))
        per[nid] += 1
        out.append(live | draws[nid].take() | {"narrative_id": nid,
                                               "narrative_label": names.get(nid, nid)})  # fmt: skip
    return out


class _AuditDraw:
    """One narrative's audit: its two strata in the audit's order, drawn from in turns."""

    def __init__(self, con, nid: str, done: dict[tuple, str]):
        population = audit_population(con, nid)
        total = len(population) or 1
        self.taken = Counter(s for (m, _), s in done.items() if m == nid)
        strata = {
            "counted": [d for d in population if d["counted"]],
            "not-counted": [d for d in population if not d["counted"]],
        }
        self.share = {k: len(v) / total for k, v in strata.items()}
        self.queues = {k: [d for d in v if (nid, d["document_hash"]) not in done]
                       for k, v in strata.items()}  # fmt: skip

    def left(self) -> bool:
        return any(self.queues.values())

    def take(self) -> dict:
        # the stratum with fewer labels next; an empty one gives way to the other
        stratum = min((k for k in self.queues if self.queues[k]), key=lambda k: (self.taken[k], k))
        doc = self.queues[stratum].pop(0)
        self.taken[stratum] += 1
        return doc | {
            "stream": "audit", "item_kind": "document", "passage_id": None, "passage_hash": None,
            "text": doc["text"] or doc["document_text"][:600], "stratum": stratum,
            "stratum_share": self.share[stratum], "decision": None, "threshold": None,
        }  # fmt: skip


def next_items(con, stream: str, done_labels: list[dict], narrative: str | None = None,
               n: int = 20) -> list[dict]:  # fmt: skip
    """The next items of a stream, leaving out those labelled in `done_labels` (the journal's
    and the table's labels, as dicts with the label fields)."""
    if stream == "uncertain":
        done = {
            (r["narrative_id"], r["passage_hash"]) for r in done_labels if r.get("passage_hash")
        }
        return uncertain(con, done, narrative, n)
    if stream == "audit":
        done_audit = {(r["narrative_id"], r["document_hash"]): r.get("stratum") or "counted"
                      for r in done_labels if r.get("stream") == "audit"}  # fmt: skip
        return audit(con, done_audit, narrative, n)
    raise ValueError(f"stream must be one of {', '.join(STREAMS)}, not {stream!r}")


def label_for(item: dict, verdict: str, who: str, labelled_at: str) -> dict:
    """The label an analyst's verdict on a queue item makes."""
    day = item.get("day")
    return {
        "set_id": item["set_id"], "narrative_id": item["narrative_id"],
        "item_kind": item["item_kind"], "stream": item["stream"], "verdict": verdict,
        "document_hash": item["document_hash"], "passage_hash": item.get("passage_hash"),
        "lang": item.get("lang"), "day": str(day) if day is not None else None,
        "stratum": item.get("stratum"), "stratum_share": item.get("stratum_share"),
        "score": float(item["score"]) if item.get("score") is not None else None,
        "set_version": item.get("set_version"), "model_id": item.get("model_id"),
        "run_id": item.get("run_id"), "who": who, "labelled_at": labelled_at,
    }  # fmt: skip
