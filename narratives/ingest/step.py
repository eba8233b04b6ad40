"""Ingesting the sources of a sources file: read each source, store what is new, remember it.

Per source, the network (or file) is read with no database connection held (`read`), then what
was read is stored in one short write (`store`): documents, passages, reprint and forward edges,
one `ingest_errors` row per bad item, and the source's state (validators, seen ids, summary).
Sources may be read concurrently (the Prefect flow maps over them); they are stored one at a time
in the order of the sources file, so the result does not depend on which read finished first and
reprints are found across sources. The whole ingest holds `<home>/locks/ingest.lock`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from narratives.core import runs
from narratives.core.settings import Settings
from narratives.core.store import writer
from narratives.ingest.model import IngestProblem, RawDocument
from narratives.ingest.sources.corpus import read_jsonl
from narratives.ingest.sources_file import Source, load_sources, select
from narratives.ingest.state import SourceState, ingest_lock, load_state, save_state
from narratives.ingest.store import store_documents

log = logging.getLogger("narratives.ingest")
_STORE = threading.Lock()  # one store at a time per process (the flow reads sources in threads)


class SourceUnreachable(Exception):
    """A source that could not be reached at all; worth retrying with backoff."""


def read_source(source: Source, state, settings: Settings):
    """(items, validators, not_modified) of one read of a source."""
    if source.kind == "telegram-export":
        from narratives.ingest.sources.telegram import read_export

        return list(read_export(source, state)), {}, False
    if source.kind in ("files", "hf-dataset"):
        from narratives.ingest.sources.files import read_files

        cache = settings.home / "cache" / "datasets"
        return list(read_files(source, state, cache)), {}, False
    import httpx

    with httpx.Client(follow_redirects=False) as client:
        if source.kind == "feed":
            from narratives.ingest.sources.feeds import read_feed

            got = read_feed(source, client, state)
            validators = {"etag": got.etag, "last_modified": got.last_modified}
            return got.items, validators, got.not_modified
        from narratives.ingest.sources.pages import read_pages

        return list(read_pages(source, client, state)), {}, False


@dataclass
class SourceRead:
    """One read of a source, not stored yet."""

    source: Source
    state: SourceState
    items: list
    validators: dict
    not_modified: bool
    seconds: float


def read(settings: Settings, source: Source, *, retrying: bool = False) -> SourceRead:
    """Read a source (network or file), holding no database connection while reading.

    With `retrying`, a source that cannot be reached at all raises SourceUnreachable instead of
    being recorded as an error, so the caller can try again later; the last try records it."""
    started = time.perf_counter()
    with _STORE, writer(settings.database, settings.lock_wait_s) as con:
        state = load_state(con, source.id)
    items, validators, not_modified = read_source(source, state, settings)
    if retrying and _unreachable(source, items):
        raise SourceUnreachable(_unreachable(source, items)[0].reason)
    return SourceRead(source, state, items, validators, not_modified, time.perf_counter() - started)


def _unreachable(source: Source, items: list) -> list[IngestProblem]:
    """The network failure that kept the whole source from being read, if that happened."""
    return [i for i in items if isinstance(i, IngestProblem) and i.network and i.item == source.url]


def store(settings: Settings, got: SourceRead, run_id: int | None = None) -> dict:
    """Store one read; returns the source's summary (new, duplicate, reprint, error, passages)."""
    started = time.perf_counter()
    source, state, validators = got.source, got.state, dict(got.validators)
    # a bad item reported by an earlier run is not reported again
    items = [i for i in got.items if not (isinstance(i, IngestProblem) and i.item in state.seen)]
    unreachable = _unreachable(source, items)
    seen = {i.external_id for i in items if isinstance(i, RawDocument)}
    seen |= {i.item for i in items if isinstance(i, IngestProblem) and not i.retry}
    with _STORE, writer(settings.database, settings.lock_wait_s) as con:
        result = store_documents(con, source.id, items, run_id=run_id,
                                 max_words=settings.max_passage_words,
                                 progress=settings.progress)  # fmt: skip
        summary = {
            "new": result.documents_new - result.reprints,
            "duplicate": result.documents_seen + state.skipped,
            "reprint": result.reprints,
            "error": result.errors,
            "passages": result.passages_new,
        }
        if got.not_modified:
            status = "not-modified"
        elif unreachable or (result.errors and not result.documents_new and not state.skipped):
            status = "failed"
        else:
            status = "partial" if result.errors else "ok"
        problems = [i for i in items if isinstance(i, IngestProblem)]
        save_state(con, source.id, source.kind, run_id=run_id, status=status, counts=summary,
                   seen=seen, error=problems[-1].reason if problems else None, **validators)  # fmt: skip
    summary["status"] = status
    summary["seconds"] = round(got.seconds + time.perf_counter() - started, 3)
    log.info("source %s: %s; %d new, %d duplicate, %d reprint, %d error(s)", source.id, status,
             summary["new"], summary["duplicate"], summary["reprint"], summary["error"])  # fmt: skip
    return summary


def ingest_source(settings: Settings, source: Source, run_id: int | None = None) -> dict:
    return store(settings, read(settings, source), run_id)


def ingest_sources(
    settings: Settings, sources_file: Path, only: str | None = None, run_id: int | None = None
) -> dict[str, dict]:
    """Every enabled source of the file (or only one), in order, under the ingest lock; the
    summaries per source id (`record_run` adds them to the run's record)."""
    sources = select(load_sources(sources_file), only)
    with ingest_lock(settings.home):
        out = {}
        bar = tqdm(sources, desc="ingesting sources", unit="source", leave=False,
                   disable=not settings.progress)  # fmt: skip
        for s in bar:
            bar.set_postfix_str(s.id)
            out[s.id] = ingest_source(settings, s, run_id)
        return out


def totals(summaries: dict[str, dict]) -> dict:
    keys = ("new", "duplicate", "reprint", "error", "passages")
    return {k: sum(s.get(k, 0) for s in summaries.values()) for k in keys}


def record_run(settings: Settings, run_id: int, summaries: dict[str, dict]) -> dict:
    """The run's counts in the pipeline's terms, plus the per-source summaries."""
    t = totals(summaries)
    counts = {
        "documents_new": t["new"] + t["reprint"], "documents_seen": t["duplicate"],
        "passages_new": t["passages"], "reprints": t["reprint"], "errors": t["error"],
        "sources": summaries,
    }  # fmt: skip
    with writer(settings.database, settings.lock_wait_s) as con:
        runs.update_run(con, run_id, counts=counts)
    return counts


# --- the pipeline's ingest step ---------------------------------------------------------------
def corpus_source_id(con, path: Path) -> str:
    """The source id of a corpus file: `file:<folder>/<name>`, as earlier releases named it, for
    the first file of that folder and name; another file of the same folder and name elsewhere
    (`x/demo/corpus.jsonl` after `y/demo/corpus.jsonl`) gets a hash of its full path added, so
    its documents are not taken for the first file's and dropped as seen.

    Which file owns the plain id is recorded in its `source_state` row. A database of an earlier
    release has no such record: the file ingested now is taken to be the one that stored it, and
    so is a file whose recorded owner no longer exists (the project folder was moved)."""
    path = Path(path).resolve()
    plain = f"file:{path.parent.name}/{path.name}"
    owner = con.execute(
        "SELECT last_counts->>'path' FROM source_state WHERE source_id = ?", [plain]
    ).fetchall()
    owner_path = owner[0][0] if owner else None
    if owner_path is None or owner_path == str(path) or not Path(owner_path).exists():
        return plain
    return f"{plain}@{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def ingest_step(settings: Settings, run_id: int) -> dict:
    """Ingest the sources file when one is set, else the corpus file; under the ingest lock."""
    started = time.perf_counter()
    if settings.sources is not None:
        summaries = ingest_sources(settings, settings.sources, run_id=run_id)
        counts = record_run(settings, run_id, summaries)
        with writer(settings.database, settings.lock_wait_s) as con:
            runs.update_run(con, run_id, timings={"ingest_s": time.perf_counter() - started})
        return counts
    items = read_jsonl(settings.corpus)
    with ingest_lock(settings.home), writer(settings.database, settings.lock_wait_s) as con:
        source_id = corpus_source_id(con, settings.corpus)
        result = store_documents(con, source_id, items, run_id=run_id,
                                 max_words=settings.max_passage_words,
                                 progress=settings.progress)  # fmt: skip
        counts = result.as_counts()
        summary = {
            "new": result.documents_new - result.reprints, "duplicate": result.documents_seen,
            "reprint": result.reprints, "error": result.errors, "passages": result.passages_new,
            "path": str(Path(settings.corpus).resolve()),  # which file owns this id (above)
        }  # fmt: skip
        status = "partial" if result.errors else "ok"
        save_state(con, source_id, "corpus", run_id=run_id, status=status, counts=summary,
                   seen=set(), error=None)  # fmt: skip
        runs.update_run(
            con, run_id, counts=counts, timings={"ingest_s": time.perf_counter() - started}
        )
    # the ingest flow's words (the CLI's console prints a repeat once)
    log.info(
        "ingest: %d new documents (%d of them reprints), %d new passages, %d already stored, "
        "%d bad items", result.documents_new, result.reprints, result.passages_new,
        result.documents_seen, result.errors,
    )  # fmt: skip
    return counts
