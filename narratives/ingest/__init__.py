"""Ingest: coverage in, as documents and passages.

`sources_file` (the TOML sources file) -> `step` (read each source, store what is new, keep
per-source state under a lock; and the pipeline's ingest step) -> `sources/` (one module per
source kind: feeds, pages, telegram, files, corpus) over `http` (the one bounded fetch helper).
Each kind turns its input into `RawDocument`s, or `IngestProblem`s for bad items (`model`);
`store` stores them idempotently, split into passages (narratives.passages), with reprint
edges found by `dedup`; `state` keeps what each source has seen; `queries` reads it back.
Also owns the views every later stage counts coverage by: `passage_facts`, `coverage_daily`."""

from narratives.ingest.model import IngestProblem, RawDocument

__all__ = ["IngestProblem", "RawDocument"]

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = (
    "documents",
    "passages",
    "outlets",
    "reprints",
    "forwards",
    "source_state",
    "minhash_bands",
    "ingest_errors",
    "passage_facts",
    "coverage_daily",
    "coverage_daily_all",
    "calendar",  # the date spine (0010)
)
