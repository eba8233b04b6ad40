"""Commands that run the pipeline: run, serve, migrate."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "run", help="run the pipeline (ingest, embed, match, aggregate) as a Prefect flow"
    )
    add_common(p)
    p.add_argument(
        "--corpus",
        type=Path,
        default=argparse.SUPPRESS,
        help="JSONL file of documents (default: the demo corpus)",
    )
    p.add_argument(
        "--narratives",
        type=Path,
        dest="narrative_set",
        default=argparse.SUPPRESS,
        help="narrative set YAML (default: crocus-2024)",
    )
    p.add_argument(
        "--no-prefect", action="store_true", help="run the same steps in-process, without Prefect"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "serve", help="serve the pipeline as a Prefect deployment on a cron schedule"
    )
    add_common(p)
    p.add_argument(
        "--cron",
        dest="schedule_cron",
        default=argparse.SUPPRESS,
        help='schedule (default "0 * * * *")',
    )
    p.add_argument("--name", default="narratives-pipeline", help="deployment name")
    p.add_argument("--corpus", type=Path, default=argparse.SUPPRESS)
    p.add_argument("--narratives", type=Path, dest="narrative_set", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    add_common(p)
    p.set_defaults(func=cmd_migrate)


# --no-prefect: a run that fails with a transient error (the database held past lock_wait_s by
# another process, the network) is run again after these pauses; its steps skip what is done.
# The flows retry their tasks the same way (flows/pipeline.py).
RETRY_DELAYS_S = (10, 60)


def cmd_run(args, settings) -> int:
    from narratives.cli.checks import check_run
    from narratives.cli.output import table

    check_run(settings)  # a permanent error fails here, before Prefect starts
    if args.no_prefect:
        from narratives import pipeline
        from narratives.core.runs import retry_transient

        run = retry_transient(lambda: pipeline.run_pipeline(settings), RETRY_DELAYS_S, "the run")
    else:
        from flows.server import prefect_api

        with prefect_api():
            from flows.pipeline import pipeline_flow

            run = pipeline_flow(settings.to_dict())
    counts, timings = run["counts"], run["timings"]
    print(
        f"\nrun {run['id']}: {run['status']}  model {run['model_id']}  set {run['set_id']}@{run['set_version']}"
    )
    rows = [(k, v) for k, v in counts.items() if not isinstance(v, dict)]
    rows += [(k, round(v, 2)) for k, v in timings.items()]
    print(table(["what", "value"], rows))
    print(f"database: {settings.database.resolve()}")
    return 0 if run["status"] == "ok" else 1


def cmd_serve(args, settings) -> int:
    from flows.deploy import serve
    from narratives.cli.checks import check_run

    check_run(settings)

    serve(settings, name=args.name)
    return 0


def cmd_migrate(args, settings) -> int:
    from narratives.core.store import schema_version, writer

    with writer(settings.database, settings.lock_wait_s) as con:
        print(f"{settings.database}: schema version {schema_version(con)}")
    return 0
