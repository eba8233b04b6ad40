"""A temporary Prefect API server for the flows one `narratives` command runs, tied to its life.

Without PREFECT_API_URL, Prefect starts a temporary server (uvicorn) by itself, as a plain child
process: when the command is killed outright (kill -9, the OOM killer), that server is orphaned
and keeps listening. `temporary_server()` starts the same server as a child that cannot outlive
the command: on Linux the child asks the kernel for SIGKILL when its parent dies
(prctl PR_SET_PDEATHSIG, set before it serves; the "parent" is the thread that started it, so
start it from the main thread), and on every system a watchdog thread in the child ends it once
its parent is gone. It runs in a session of its own, so a Ctrl-C at the terminal reaches the
command only, which stops the server after the flow has reported how it ended.

Run as `python -m flows.server --port N --parent PID`, this module is that child.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("flows.server")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
ADDRESS_IN_USE = 3  # uvicorn's exit status when the port was taken meanwhile


@contextmanager
def prefect_api() -> Iterator[str | None]:
    """The Prefect API the flows report to: PREFECT_API_URL when set (a real server), else a
    temporary server of this process for the duration of the block."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        yield url
        return
    with temporary_server() as url:
        yield url


class ServerRequired(ConnectionError):
    """No Prefect server to register deployments with; the message says how to start one."""


def real_server() -> str:
    """The URL of the Prefect server that `narratives serve` registers its deployments with:
    PREFECT_API_URL (environment or Prefect profile), and it must answer. A temporary server
    does not do: it runs without the scheduler, so schedules never fire."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ServerRequired(
            "no Prefect server: start one with `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (docs/operations.md); "
            "or pass --ephemeral to try it out on a temporary server that stops with this command"
        )
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise ServerRequired(
            f"no Prefect server answers at {url} (PREFECT_API_URL): start it with "
            f"`prefect server start` ({type(problem).__name__}: {problem})"
        )
    return url


@contextmanager
def temporary_server(timeout_s: float | None = None, services: bool = False) -> Iterator[str]:
    """Start the temporary server, point Prefect at it for the block, stop it afterwards.
    `services`: with the scheduler and the other services of a real server (schedules fire);
    by default it runs as Prefect's own temporary server does, without them."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
        temporary_settings,
    )

    env = os.environ | get_current_settings().to_environment_variables(exclude_unset=True)
    # as Prefect starts its own temporary server: no UI, ephemeral mode (no services)
    env |= {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_FINAL": "1"}
    if not services:
        env["PREFECT__SERVER_EPHEMERAL"] = "1"
    env.pop("PREFECT_API_URL", None)
    timeout_s = timeout_s or PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    proc, url = _start(env, timeout_s)
    log.info("Prefect API: temporary server on %s (pid %d), stopped with this command",
             url, proc.pid)  # fmt: skip
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:  # also after a failure: else they retry a server that is gone, at exit
                _drain()
    finally:
        _stop(proc)


def _start(env: dict, timeout_s: float) -> tuple[subprocess.Popen, str]:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.server", "--port", str(port), "--parent", str(os.getpid())],
            env=env, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/api"
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                status = proc.poll()
                if status == ADDRESS_IN_USE:
                    break  # taken between the check and the start: another port
                if status is not None:
                    raise RuntimeError(f"the temporary Prefect server exited with status {status}")
                try:
                    if client.get(f"{url}/health", timeout=2).status_code == 200:
                        return proc, url
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                _stop(proc)
                raise TimeoutError(
                    f"the temporary Prefect server did not answer within {timeout_s:g} s "
                    "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
                )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _drain() -> None:
    """Send the logs and events Prefect still holds before the server goes away."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
    except Exception as exc:  # nothing here may fail the command that already finished
        log.debug("draining Prefect's workers: %s", exc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the child -------------------------------------------------------------------------------
def die_with_parent(parent: int) -> None:
    """End this process when `parent` ends: the kernel's parent-death signal where there is one
    (Linux), and a watchdog that notices being handed to another parent everywhere."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    import uvicorn

    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1",
                port=args.port, log_level="error", lifespan="on")  # fmt: skip


if __name__ == "__main__":
    main()
