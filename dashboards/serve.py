"""Starting the dashboard: the `streamlit run` command line and the settings it passes on.

The Streamlit process is an entry point of its own; it reads its settings from NARRATIVES_*
variables, which are written here from the CLI's settings (so flags like --home reach it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from narratives.core.settings import Settings
from narratives.prevalence import snapshots

APP = Path(__file__).resolve().parent / "app.py"


def ensure_snapshot(settings: Settings) -> snapshots.Snapshot:
    """The current snapshot; a database from before snapshots existed gets its first one."""
    snap = snapshots.current(settings.snapshots_dir)
    if snap is not None:
        return snap
    from narratives.core.store import DatabaseMissing, writer

    if not settings.database.exists():
        raise DatabaseMissing(
            f"no database at {settings.database} and no snapshot in {settings.snapshots_dir}; "
            "run `narratives run` (or `make demo`) first"
        )
    with writer(settings.database, settings.lock_wait_s) as con:
        return snapshots.publish(
            con, settings.database, settings.index_dir, settings.snapshots_dir, None,
            keep=settings.snapshot_keep,
        )  # fmt: skip


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings for the Streamlit process, with paths made absolute (it may run elsewhere)."""
    paths = {"home", "db_path", "corpus", "narrative_set"}
    fixed = {k: Path(v).resolve() for k, v in settings.to_dict().items() if k in paths and v}
    return settings.replace(**fixed).to_env()


def streamlit_command(settings: Settings, host: str, port: int) -> tuple[list[str], dict]:
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host, "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
        # an unexpected error shows a generic message in the page; the traceback goes to the
        # server's console only (expected ones are one line: dashboards.common.stop_with)
        "--client.showErrorDetails", "none",
    ]  # fmt: skip
    env = os.environ | settings_env(settings) | {"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    return cmd, env
