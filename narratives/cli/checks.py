"""Checks of a command's inputs at the edge, before anything starts (Prefect's server takes
seconds): a missing file, a set or sources file that does not parse, an unknown model or a
damaged database fails here with its own message, at once, instead of inside a flow where it
would be logged with a traceback (and, before, retried with back-off)."""

from __future__ import annotations

from pathlib import Path

from narratives.core.settings import Settings


def check_set(settings: Settings) -> None:
    from narratives.matching.sets import load_set

    load_set(settings.narrative_set)  # DefinitionError names the file, the place and the fix


def check_sources(path: Path) -> None:
    from narratives.ingest.sources_file import load_sources

    load_sources(path)  # SourcesError / FileNotFoundError name the file and the place


def check_corpus(path: Path) -> None:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"corpus file {path} does not exist; pass --corpus with a JSONL file of documents "
            "(or set a sources file: NARRATIVES_SOURCES)"
        )
    if not path.is_file():
        raise IsADirectoryError(f"corpus {path} is not a file; pass --corpus with a JSONL file")
    with path.open("rb"):  # readable (a PermissionError names the file)
        pass


def check_model(spec: str) -> None:
    from embeddings.base import available_backends

    name = spec.partition(":")[0]
    if name not in available_backends():
        raise ValueError(
            f"unknown embedding model {spec!r}; choose one of {available_backends()} "
            "(for any sentence-transformers model write sentence-transformers:<name-or-path>)"
        )


def check_database(path: Path) -> None:
    """A database that exists must open (damage is named now); one held by another process
    or made by an older release is fine: the run waits for it, or migrates it."""
    from narratives.core.store import DatabaseBusy, DatabaseOutdated, reader

    if not Path(path).exists():
        return
    try:
        with reader(path, wait_s=0):
            pass
    except (DatabaseBusy, DatabaseOutdated):
        pass


def check_run(settings: Settings) -> None:
    """What `narratives run` reads: the set, the sources file or corpus, the model, the database."""
    check_set(settings)
    if settings.sources is not None:
        check_sources(settings.sources)
    else:
        check_corpus(settings.corpus)
    check_model(settings.model)
    check_database(settings.database)
    if settings.dask_address:  # before the run begins, not after its ingest
        from narratives.core.parallel import check_cluster

        check_cluster(settings.dask_address)


def check_filters(con, narrative: str | None = None, outlet_kind: str | None = None) -> None:
    """A filter value nothing can match is a mistake, not an empty answer: `prevalence
    --outlet-kind nope` used to print an empty table and exit 0. One line lists what is valid."""
    if narrative is None and outlet_kind is None:
        return  # nothing to check: spare a big store the scans options() makes
    from narratives.ingest.sources_file import OUTLET_KINDS
    from narratives.prevalence.queries import options

    known = options(con)
    if narrative is not None and narrative not in known["narratives"]:
        valid = ", ".join(known["narratives"]) or "none (run the pipeline first)"
        raise ValueError(f"unknown narrative {narrative!r}; valid: {valid}")
    kinds = sorted(set(OUTLET_KINDS) | set(known["kinds"]))
    if outlet_kind is not None and outlet_kind not in kinds:
        raise ValueError(f"unknown outlet kind {outlet_kind!r}; valid: {', '.join(kinds)}")
