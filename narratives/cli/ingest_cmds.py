"""Commands that take coverage in: ingest, sources, errors."""

from __future__ import annotations

import json
from pathlib import Path

from narratives.cli.output import add_format, emit


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "ingest", help="read the feeds, pages, Telegram exports and files of a sources file"
    )
    add_common(p)
    add_format(p)
    p.add_argument(
        "sources_file", nargs="?", type=Path,
        help="sources file (TOML; see docs/ingest.md); default $NARRATIVES_SOURCES",
    )  # fmt: skip
    p.add_argument("--source", help="only this source id")
    p.add_argument(
        "--no-prefect", action="store_true", help="run in-process, without the Prefect flow"
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sources", help="status per source: last run, documents, errors")
    add_common(p)
    add_format(p)
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("errors", help="bad items recorded by ingest, newest first")
    add_common(p)
    add_format(p)
    p.add_argument("--source", help="only this source id")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_errors)


def cmd_ingest(args, settings) -> int:
    path = args.sources_file or settings.sources
    if path is None:
        raise ValueError("no sources file: pass one (see data/sources.example.toml) "
                         "or set NARRATIVES_SOURCES")  # fmt: skip
    settings = settings.replace(sources=path)
    from narratives.cli.checks import check_database, check_set, check_sources

    check_sources(path)  # a bad sources file fails here, before Prefect starts
    check_set(settings)
    check_database(settings.database)
    if args.no_prefect:
        from narratives.cli.pipeline_cmds import RETRY_DELAYS_S
        from narratives.core.runs import retry_transient
        from narratives.ingest.step import ingest_sources, record_run
        from narratives.pipeline import recorded_run

        def ingest() -> dict:
            with recorded_run(settings, "ingest") as run:
                return record_run(
                    settings, run.id, ingest_sources(settings, path, args.source, run.id)
                )

        counts = retry_transient(ingest, RETRY_DELAYS_S, "the ingest")
    else:
        from flows.server import prefect_api

        with prefect_api():
            from flows.pipeline import ingest_flow

            counts = ingest_flow(settings.to_dict(), only=args.source)
    rows = [(sid, s["status"], s["new"], s["duplicate"], s["reprint"], s["error"], s["passages"])
            for sid, s in counts["sources"].items()]  # fmt: skip
    emit(args, ["source", "status", "new", "duplicate", "reprint", "error", "passages"], rows)
    if counts["errors"] and args.format == "table":
        print(f"\n{counts['errors']} bad item(s) skipped: `narratives errors` shows why")
    return 0


def cmd_sources(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.ingest.queries import source_status

    with reader(settings.database) as con:
        rows = source_status(con)
    if not rows and args.format == "table":
        print("no source has been ingested yet: run `narratives ingest SOURCES_FILE`")
        return 0
    out = []
    for sid, kind, last_at, status, docs, reprints, errors, last, last_error in rows:
        last = json.loads(last) if isinstance(last, str) else (last or {})
        out.append((sid, kind, last_at, status, docs, reprints, errors,
                    last.get("new"), last_error))  # fmt: skip
    headers = ["source", "kind", "last run", "status", "documents", "reprints", "errors",
               "new last run", "last error"]  # fmt: skip
    emit(args, headers, out, max_width=60)
    return 0


def cmd_errors(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.ingest.queries import recent_errors

    with reader(settings.database) as con:
        rows = recent_errors(con, args.source, args.limit)
    if not rows and args.format == "table":
        print("no ingest errors" + (f" for source {args.source!r}" if args.source else ""))
        return 0
    emit(args, ["when", "source", "item", "reason"], rows, max_width=100)
    return 0
