"""Labelled files: JSONL, one document a line: `text`, `lang`, `labels` (or `gold_narratives`, as
in a corpus file; narrative ids or labels of the set; other labels, e.g. `Other`, mean "none of
the set's narratives"), and an optional `id` and `published_at` (or `date`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from narratives.core.jsonl import json_rows
from narratives.ingest.sources.corpus import parse_datetime
from narratives.matching.sets import NarrativeSet


class LabelledDataError(ValueError):
    pass


@dataclass
class LabelledDoc:
    id: str
    text: str
    lang: str
    labels: tuple[str, ...]
    date: dt.date | None = None  # from `published_at` or `date` when given (the event's window)


def _date(value) -> dt.date | None:
    """The UTC day of an ISO date or timestamp, read as the corpus source reads `published_at`."""
    when = parse_datetime(value) if value else None
    return when.date() if when is not None else None


def load_labelled(path: str | Path) -> list[LabelledDoc]:
    path = Path(path)

    def error(msg: str) -> LabelledDataError:
        hint = (
            "; give a JSONL file of {text, lang, labels} objects" if msg.startswith("file") else ""
        )
        return LabelledDataError(f"{path}: {msg}{hint}")

    docs = []
    for n, row in json_rows(path, error):
        # `gold_narratives` is the corpus format's name (data/demo/corpus.jsonl)
        text, labels = row.get("text"), row.get("labels", row.get("gold_narratives"))
        if not isinstance(text, str) or not text.strip():
            raise LabelledDataError(f"{path}: line {n}: `text` must be a non-empty string")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise LabelledDataError(f"{path}: line {n}: `labels` must be a list of strings")
        docs.append(LabelledDoc(str(row.get("id", n)), text, str(row.get("lang") or "und"),
                                tuple(labels), _date(row.get("published_at") or row.get("date"))))  # fmt: skip
    if not docs:
        raise LabelledDataError(f"{path}: holds no documents")
    return docs


def gold_matrix(docs: list[LabelledDoc], nset: NarrativeSet, order: list[str]) -> np.ndarray:
    """(docs x narratives) booleans; a label matches a narrative by id or by its label text."""
    by_name = {n.id: n.id for n in nset.narratives} | {n.label: n.id for n in nset.narratives}
    column = {nid: j for j, nid in enumerate(order)}
    gold = np.zeros((len(docs), len(order)), dtype=bool)
    for i, d in enumerate(docs):
        for label in d.labels:
            nid = by_name.get(label)
            if nid in column:
                gold[i, column[nid]] = True
    return gold
