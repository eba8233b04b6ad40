"""Commands that run the pipeline: run, serve, migrate."""

from __future__ import annotations

import argparse
from pathlib import Path

from narratives.cli.output import add_format


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "run", help="run the pipeline (ingest, embed, match, aggregate) as a Prefect flow"
    )
    add_common(p)
    add_format(p)
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
    add_scale_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "serve",
        help="run the pipeline (hourly) and discovery with alerts (daily) on their schedules",
        description="Register the deployments narratives-pipeline (on --cron) and "
        "narratives-discover (clustering and alerts, on --discover-cron) with the Prefect server "
        "at PREFECT_API_URL, and run their flow runs in this process until stopped (Ctrl-C or "
        "SIGTERM). Paths are stored absolute, so runs do not depend on the working directory. "
        "An overlapping run of a deployment waits for the one before it (--overlap skip "
        "cancels it instead); runs on one home never overlap. Alternative: `prefect deploy "
        "--all` and a worker (docs/operations.md).",
        epilog="example: export PREFECT_API_URL=http://127.0.0.1:4200/api; "
        'narratives --home /srv/narratives serve --cron "0 * * * *"',
    )
    add_common(p)
    p.add_argument(
        "--cron",
        dest="schedule_cron",
        default=argparse.SUPPRESS,
        help='the pipeline\'s schedule, cron syntax, UTC (default "0 * * * *": hourly)',
    )
    p.add_argument(
        "--discover-cron",
        default=None,
        help='discovery and alerts\' schedule (default "30 2 * * *": daily at 02:30 UTC)',
    )
    p.add_argument("--corpus", type=Path, default=argparse.SUPPRESS,
                   help="JSONL file of documents (default: the demo corpus)")  # fmt: skip
    p.add_argument("--sources", type=Path, default=argparse.SUPPRESS,
                   help="a sources file to ingest instead of the corpus (docs/ingest.md)")  # fmt: skip
    p.add_argument("--narratives", type=Path, dest="narrative_set", default=argparse.SUPPRESS,
                   help="narrative set YAML (default: crocus-2024)")  # fmt: skip
    add_scale_options(p)
    p.add_argument(
        "--overlap",
        choices=["wait", "skip"],
        default="wait",
        help="a scheduled run that finds the last one still running waits for it (default) "
        "or is cancelled",
    )
    p.add_argument(
        "--prefix",
        default="narratives",
        help="deployment names: PREFIX-pipeline, PREFIX-discover (default narratives)",
    )
    p.add_argument(
        "--ephemeral",
        action="store_true",
        help="try it out without starting a Prefect server: a temporary one (no UI) runs "
        "inside this command and stops with it, and with it every schedule",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    add_common(p)
    p.set_defaults(func=cmd_migrate)


def add_scale_options(p) -> None:
    """Where the embed and match steps' partitions run (docs/scale.md)."""
    p.add_argument(
        "--workers", type=int, metavar="N", default=argparse.SUPPRESS,
        help="embed and match on a local Dask cluster of N worker processes (default: in this "
        "process)",
    )  # fmt: skip
    p.add_argument(
        "--dask-address", metavar="tcp://HOST:PORT", default=argparse.SUPPRESS,
        help="embed and match on the workers of this Dask scheduler (each needs "
        "narrative-tracker installed)",
    )  # fmt: skip


# --no-prefect: a run that fails with a transient error (the database held past lock_wait_s by
# another process, the network) is run again after these pauses; its steps skip what is done.
# The flows retry their tasks the same way (flows/pipeline.py).
RETRY_DELAYS_S = (10, 60)


def cmd_run(args, settings) -> int:
    from narratives.cli.checks import check_run
    from narratives.cli.output import emit

    check_run(settings)  # a permanent error fails here, before Prefect starts
    if args.no_prefect:
        from narratives import pipeline
        from narratives.core.runs import retry_transient

        run = retry_transient(lambda: pipeline.run_pipeline(settings), RETRY_DELAYS_S, "the run")
    else:
        from flows.server import prefect_api

        with prefect_api():
            from flows.params import PipelineSettings
            from flows.pipeline import pipeline_flow

            run = pipeline_flow(PipelineSettings.of(settings))
    counts, timings = run["counts"], run["timings"]
    rows = [(k, v) for k, v in counts.items() if not isinstance(v, dict)]
    rows += [(k, round(v, 2)) for k, v in timings.items()]
    if args.format != "table":
        emit(args, ["what", "value"], rows)
        return 0 if run["status"] == "ok" else 1
    print(
        f"\nrun {run['id']}: {run['status']}  model {run['model_id']}  set {run['set_id']}@{run['set_version']}"
    )
    emit(args, ["what", "value"], rows)
    print(f"database: {settings.database.resolve()}")
    return 0 if run["status"] == "ok" else 1


def cmd_serve(args, settings) -> int:
    import logging

    from narratives.cli.checks import check_run

    check_run(settings)  # what every run would fail on fails here, once
    from flows.deploy import DISCOVER_CRON, serve
    from flows.server import real_server, temporary_server

    cron = args.discover_cron or DISCOVER_CRON
    _check_cron("--cron", settings.schedule_cron)
    _check_cron("--discover-cron", cron)
    log = logging.getLogger("narratives.serve")
    if args.ephemeral:
        with temporary_server(services=True) as url:
            log.warning("--ephemeral: a temporary Prefect server on %s (no UI) stops with "
                        "this command, and nothing runs on schedule then", url)  # fmt: skip
            serve(settings, cron, args.overlap, args.prefix)
        return 0
    url = real_server()  # refuses a temporary server: its schedules would never fire
    log.info("serving %s-pipeline (%s) and %s-discover (%s) on %s, home %s", args.prefix,
             settings.schedule_cron, args.prefix, cron, url, settings.home)  # fmt: skip
    serve(settings, cron, args.overlap, args.prefix)
    return 0


def _check_cron(option: str, cron: str) -> None:
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron)
    except ValidationError:
        raise ValueError(
            f"{option} {cron!r} is not a cron schedule: five fields, minute hour day month "
            'weekday, e.g. "0 * * * *" (hourly) or "30 2 * * *" (daily at 02:30 UTC)'
        ) from None


def cmd_migrate(args, settings) -> int:
    from narratives.core.store import schema_version, writer

    with writer(settings.database, settings.lock_wait_s) as con:
        print(f"{settings.database}: schema version {schema_version(con)}")
    return 0
