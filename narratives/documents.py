"""Storing documents and their passages, idempotently.

A document is known by (source id, external id): storing it again is a no-op, so re-running an
ingest over unchanged input adds nothing. New documents are split into passages, each with its
language, offsets and text hash (the embedding cache key). Rows go in as Arrow tables in one
insert per table, with ids taken from the sequences first so passages can point at documents.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from embeddings.base import normalise_text, text_hash
from narratives import passages as passages_mod
from narratives.ingest.model import IngestProblem, RawDocument
from narratives.store import transaction


@dataclass
class StoreResult:
    documents_new: int = 0
    documents_seen: int = 0
    passages_new: int = 0
    errors: int = 0

    def as_counts(self) -> dict:
        return dict(self.__dict__)


def outlet_id(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:  # a name in Cyrillic only: keep it stable with a hash
        slug = "outlet-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return slug


def content_hash(text: str) -> str:
    return hashlib.sha1(normalise_text(text).lower().encode("utf-8")).hexdigest()


def record_problem(con, run_id: int | None, source_id: str, problem: IngestProblem) -> None:
    con.execute(
        "INSERT INTO ingest_errors (run_id, source_id, item, reason) VALUES (?, ?, ?, ?)",
        [run_id, source_id, problem.item, problem.reason],
    )


def store_documents(
    con,
    source_id: str,
    items: Iterable[RawDocument | IngestProblem],
    *,
    run_id: int | None = None,
    max_words: int = 60,
) -> StoreResult:
    result = StoreResult()
    fresh: dict[str, RawDocument] = {}
    known = {
        r[0]
        for r in con.execute(
            "SELECT external_id FROM documents WHERE source_id = ?", [source_id]
        ).fetchall()
    }
    for item in items:
        if isinstance(item, IngestProblem):
            record_problem(con, run_id, source_id, item)
            result.errors += 1
        elif item.external_id in known or item.external_id in fresh:
            result.documents_seen += 1
        else:
            fresh[item.external_id] = item
    if not fresh:
        return result

    docs = list(fresh.values())
    split = [passages_mod.split(d.text, max_words, _declared_lang(d)) for d in docs]
    with transaction(con):
        _upsert_outlets(con, docs)
        doc_ids = _take_ids(con, "seq_documents", len(docs))
        n_passages = sum(len(p) for p in split)
        passage_ids = _take_ids(con, "seq_passages", n_passages)
        con.register("_docs", _documents_table(docs, split, doc_ids, source_id, run_id))
        con.register("_passages", _passages_table(split, doc_ids, passage_ids))
        try:
            con.execute("INSERT INTO documents BY NAME SELECT * FROM _docs")
            con.execute("INSERT INTO passages BY NAME SELECT * FROM _passages")
        finally:
            con.unregister("_docs")
            con.unregister("_passages")
    result.documents_new = len(docs)
    result.passages_new = n_passages
    return result


def _declared_lang(doc: RawDocument) -> str | None:
    lang = (doc.lang or "").lower()
    return lang if lang in passages_mod.TRACKED else None


def _take_ids(con, sequence: str, n: int) -> list[int]:
    if n == 0:
        return []
    return [
        r[0] for r in con.execute(f"SELECT nextval('{sequence}') FROM range(?)", [n]).fetchall()
    ]


def _upsert_outlets(con, docs: list[RawDocument]) -> None:
    rows = {outlet_id(d.outlet): d for d in docs}
    for oid, d in rows.items():
        con.execute(
            "INSERT INTO outlets (id, name, kind, lang) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET kind = coalesce(excluded.kind, outlets.kind)",
            [oid, d.outlet, d.outlet_kind, _declared_lang(d)],
        )


def _documents_table(docs, split, ids, source_id, run_id) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "source_id": [source_id] * len(docs),
            "external_id": [d.external_id for d in docs],
            "outlet_id": [outlet_id(d.outlet) for d in docs],
            "url": [d.url for d in docs],
            "lang": [
                passages_mod.majority_language(p) if p else _declared_lang(d)
                for d, p in zip(docs, split, strict=True)
            ],
            "published_at": pa.array([d.published_at for d in docs], pa.timestamp("us")),
            "title": [d.title for d in docs],
            "text": [d.text for d in docs],
            "content_hash": [content_hash(d.text) for d in docs],
            "gold_labels": pa.array([d.gold_labels for d in docs], pa.list_(pa.string())),
            "meta": [
                json.dumps(d.meta, ensure_ascii=False, default=str) if d.meta else None
                for d in docs
            ],
            "run_id": pa.array([run_id] * len(docs), pa.int64()),
        }
    )


def _passages_table(split, doc_ids, passage_ids) -> pa.Table:
    cols: dict[str, list] = {k: [] for k in ("id", "document_id", "seq", "start_char", "end_char",
                                             "text", "lang", "lang_confidence", "text_hash")}  # fmt: skip
    ids = iter(passage_ids)
    for doc_id, passages in zip(doc_ids, split, strict=True):
        for p in passages:
            cols["id"].append(next(ids))
            cols["document_id"].append(doc_id)
            cols["seq"].append(p.seq)
            cols["start_char"].append(p.start)
            cols["end_char"].append(p.end)
            cols["text"].append(p.text)
            cols["lang"].append(p.lang)
            cols["lang_confidence"].append(p.confidence)
            cols["text_hash"].append(text_hash(p.text, "passage"))
    return pa.table({**cols, "id": pa.array(cols["id"], pa.int64()),
                     "document_id": pa.array(cols["document_id"], pa.int64())})  # fmt: skip
