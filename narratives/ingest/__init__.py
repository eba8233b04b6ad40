"""Ingest: each source kind turns its input into `RawDocument`s (or `IngestProblem`s for bad
items); `narratives.ingest.store.store_documents` stores them, idempotently, with reprint edges.

sources (the sources file) -> runner (read, store, per-source state under a lock) -> feeds, pages,
telegram, datasets_source, files (one module per kind) over http (the one bounded fetch helper);
dedup finds exact and near copies; state keeps what each source has seen."""

from narratives.ingest.model import IngestProblem, RawDocument

__all__ = ["IngestProblem", "RawDocument"]
