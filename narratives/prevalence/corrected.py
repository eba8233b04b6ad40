"""Corrected prevalence: each prevalence cell's count (classify-and-count) corrected for the
tracker's error as the analysts' audit measured it (`estimates`), with its interval and the
audit labels behind it.

One audit per narrative, drawn from the event's whole coverage (all periods and languages) by
the review queue's audit stream: the error rates it gives correct every period's count (the
prior-shift assumption of adjusted classify-and-count: a week's share may differ, how the
tracker errs on a document that carries the narrative, or does not, does not). A language gets
its own rates where its own labels suffice (`estimates.shortfall`); otherwise the pooled ones,
and the note says so. The audit's decisions are the tracker's decisions now: a document
audited before the head learnt from new labels is judged as the tracker judges it today."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from narratives.core.langs import ALL
from narratives.labels.model import carries
from narratives.labels.queries import audit_rows
from narratives.labels.queue import live_set
from narratives.prevalence import estimates
from narratives.prevalence.queries import Filters, prevalence_rows


@dataclass(frozen=True)
class _Audit(estimates.Audit):
    drawn: np.ndarray | None = None  # bool per label: counted when it was drawn


def _moved(audit) -> int:
    """How many audited documents the tracker decides differently now than when drawn."""
    if not isinstance(audit, _Audit) or audit.drawn is None:
        return 0
    return int((audit.drawn != audit.predicted).sum())


COLUMNS = ("corrected", "corrected_lo", "corrected_hi", "audit_labels", "correction")


def audits(con) -> dict[tuple[str, str], estimates.Audit | None]:
    """(narrative, lang or 'all') -> the audit to correct that cell with (None: no labels)."""
    live = live_set(con)
    if live is None:
        return {}
    population = {}
    for split in (True, False):
        for r in prevalence_rows(con, Filters(), "total", split_lang=split).to_pylist():
            population[(r["narrative_id"], r["lang"])] = (r["matched_documents"],
                                                         r["total_documents"])  # fmt: skip
    rows = [r for r in audit_rows(con, live["set_id"]) if r["in_scope"]]
    out: dict[tuple[str, str], estimates.Audit | None] = {}
    for (nid, lang), (counted, total) in population.items():
        mine = [r for r in rows if r["narrative_id"] == nid and (lang == ALL or r["lang"] == lang)]
        out[(nid, lang)] = _audit(mine, counted, total) if mine else None
    return out


def _audit(rows: list[dict], counted: int, total: int) -> estimates.Audit:
    """The audit as the estimators take it, stratified by the tracker's decision now. The queue
    drew it stratified by the decision then (`stratum`); until the head learns from new labels
    the two are the same, and the design is exact."""
    drawn = np.array([r["stratum"] == "counted" for r in rows])
    return _Audit(
        drawn=drawn,
        predicted=np.array([bool(r["predicted"]) for r in rows]),
        truth=np.array([carries(r["verdict"]) for r in rows]),
        counted=int(counted),
        total=int(total),
        scores=np.array([float(r["score"]) for r in rows]),
    )


def corrected_rows(con, f: Filters | None = None, by: str = "week", split_lang: bool = True,
                   method: str = estimates.DEFAULT_METHOD,
                   by_cell: dict | None = None) -> list[dict]:  # fmt: skip
    """`prevalence_rows` (of the event's coverage) with, per row, the corrected share, its 95%
    interval, the audit labels behind it and a note (why there is none, or which rates).
    `by_cell`: `audits(con)`, when the caller reads several row sets with the same audits."""
    rows = prevalence_rows(con, f or Filters(), by, split_lang=split_lang, of="event").to_pylist()
    by_cell = audits(con) if by_cell is None else by_cell
    cache: dict[tuple, estimates.Estimate] = {}
    for r in rows:
        nid, lang = r["narrative_id"], r["lang"]
        own = by_cell.get((nid, lang))
        pooled = by_cell.get((nid, ALL))
        audit, note = own, ""
        if lang != ALL and estimates.shortfall(own) is not None and pooled is not None:
            audit, note = pooled, "rates pooled over languages; "
        key = (r["matched_documents"], r["total_documents"], id(audit))
        if key not in cache:
            cache[key] = estimates.estimate(r["matched_documents"], r["total_documents"], audit,
                                            method)  # fmt: skip
        e = cache[key]
        moved = _moved(audit)
        if moved and e.enough:
            note += (f"{moved} audited documents are decided differently now than when drawn "
                     "(the head learnt from labels since): rates approximate; ")  # fmt: skip
        r |= {"corrected": e.share, "corrected_lo": e.lo, "corrected_hi": e.hi,
              "audit_labels": e.labels, "correction": note + e.note}  # fmt: skip
    return rows


def add_to_table(con, headers: list[str], rows: list[tuple], by: str, f: Filters,
                 lang: str | None = None) -> tuple[list[str], list[tuple]]:  # fmt: skip
    """The CLI's prevalence table (`queries.prevalence`, of the event's coverage) with three
    more columns: the corrected share across languages (or of `lang`) in percent, its 95%
    interval, and the audit labels behind it with what is missing when they are too few."""
    cells = {}
    for r in corrected_rows(con, f, by, split_lang=lang is not None):
        if lang is None or r["lang"] == lang:
            cells[("all" if by == "total" else r["period"], r["narrative_id"])] = r
    prefix = lang or ALL
    out = []
    for row in rows:
        c = cells.get((row[0], row[1]))
        if c is None or c["corrected"] is None:
            few = c is not None and c["total_documents"] and c["audit_labels"] is not None
            audit = f"{c['audit_labels']} (too few)" if few else None
            out.append((*row, None, None, audit))
            continue
        ci = f"{100 * c['corrected_lo']:.1f}-{100 * c['corrected_hi']:.1f}"
        out.append((*row, round(100 * c["corrected"], 1), ci, str(c["audit_labels"])))
    return [*headers, f"{prefix}_corr_pct", f"{prefix}_corr_ci95", "audit"], out
