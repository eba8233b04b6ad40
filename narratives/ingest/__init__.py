"""Ingest: each source kind turns its input into `RawDocument`s (or `IngestProblem`s for bad
items); `narratives.documents.store_documents` stores them, idempotently."""

from narratives.ingest.model import IngestProblem, RawDocument

__all__ = ["IngestProblem", "RawDocument"]
