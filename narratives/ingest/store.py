"""Storing documents and their passages, idempotently.

A document is known by (source id, external id): storing it again is a no-op, so re-running an
ingest over unchanged input adds nothing. New documents are split into passages, each with its
language, offsets and text hash (the embedding cache key). Rows go in as Arrow tables in one
insert per table, with ids taken from the sequences first so passages can point at documents.

A new document that copies a stored one (or an earlier one of the same batch), exactly or nearly,
is a reprint: it keeps its documents row (its outlet and date count) and gets a `reprints` edge to
the original, but its passages are not stored, so its text is embedded and matched only once.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
from tqdm import tqdm

from embeddings.base import text_hash
from narratives.core.langs import TRACKED
from narratives.core.store import transaction
from narratives.ingest import dedup
from narratives.ingest.model import IngestProblem, RawDocument
from narratives.passages import split as passages_mod


@dataclass
class StoreResult:
    documents_new: int = 0
    documents_seen: int = 0
    passages_new: int = 0
    reprints: int = 0
    errors: int = 0

    def as_counts(self) -> dict:
        return dict(self.__dict__)


def outlet_id(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:  # a name in Cyrillic only: keep it stable with a hash
        slug = "outlet-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return slug


content_hash = dedup.content_hash


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
    progress: bool = False,
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

    # earliest first, so that of two copies in one batch the earlier is the original
    docs = sorted(fresh.values(), key=lambda d: (d.published_at is None, d.published_at or 0))
    # splitting and language identification is ingest's slow part (~2 ms a document): a bar
    bar = tqdm(docs, desc=f"splitting {source_id}", unit="doc", disable=not progress, leave=False)
    split = [passages_mod.split(d.text, max_words, _declared_lang(d)) for d in bar]
    with transaction(con):
        _upsert_outlets(con, docs)
        doc_ids = _take_ids(con, "seq_documents", len(docs))
        edges = _find_reprints(con, docs, doc_ids)
        kept = [p if doc_ids[i] not in edges else [] for i, p in enumerate(split)]
        n_passages = sum(len(p) for p in kept)
        passage_ids = _take_ids(con, "seq_passages", n_passages)
        con.register("_docs", _documents_table(docs, split, doc_ids, source_id, run_id))
        con.register("_passages", _passages_table(kept, doc_ids, passage_ids))
        try:
            con.execute("INSERT INTO documents BY NAME SELECT * FROM _docs")
            con.execute("INSERT INTO passages BY NAME SELECT * FROM _passages")
        finally:
            con.unregister("_docs")
            con.unregister("_passages")
        _insert_reprints(con, edges, {i: d for i, d in zip(doc_ids, docs, strict=True)})
        _insert_forwards(con, docs, doc_ids)
    result.documents_new = len(docs)
    result.passages_new = n_passages
    result.reprints = len(edges)
    return result


def _find_reprints(con, docs: list[RawDocument], doc_ids: list[int]) -> dict[int, dedup.Copy]:
    """reprint id -> the original it copies; the band keys of the new originals are saved."""
    finder = dedup.Deduper(con)
    edges = finder.find_all([(i, d.text) for i, d in zip(doc_ids, docs, strict=True)])
    finder.save()
    return edges


def _insert_reprints(con, edges: dict[int, dedup.Copy], batch: dict[int, RawDocument]) -> None:
    for reprint_id, copy in edges.items():
        original = batch.get(copy.original_id)
        if original is not None:
            original_at = original.published_at
        else:
            original_at = con.execute(
                "SELECT published_at FROM documents WHERE id = ?", [copy.original_id]
            ).fetchall()[0][0]
        reprint_at = batch[reprint_id].published_at
        delay = (reprint_at - original_at).total_seconds() if reprint_at and original_at else None
        con.execute(
            "INSERT OR IGNORE INTO reprints (original_id, reprint_id, kind, similarity, delay_seconds) "
            "VALUES (?, ?, ?, ?, ?)",
            [copy.original_id, reprint_id, copy.kind, copy.similarity, delay],
        )


def _insert_forwards(con, docs: list[RawDocument], doc_ids: list[int]) -> None:
    for doc_id, doc in zip(doc_ids, docs, strict=True):
        fwd = doc.forward
        if fwd is None:
            continue
        origin_outlet = con.execute(
            "SELECT id FROM outlets WHERE id = ? OR name = ?",
            [outlet_id(fwd.origin_name), fwd.origin_name],
        ).fetchall()
        con.execute(
            "INSERT OR REPLACE INTO forwards (document_id, origin_name, origin_outlet_id, "
            "origin_message_id, origin_date, views) VALUES (?, ?, ?, ?, ?, ?)",
            [doc_id, fwd.origin_name, origin_outlet[0][0] if origin_outlet else None,
             fwd.origin_message_id, fwd.origin_date, fwd.views],
        )  # fmt: skip


def _declared_lang(doc: RawDocument) -> str | None:
    lang = (doc.lang or "").lower()
    return lang if lang in TRACKED else None


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
