"""`narratives dashboard`: serve the Streamlit dashboard over the last published snapshot."""

from __future__ import annotations


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "dashboard", help="serve the dashboards (Streamlit) over the last published snapshot"
    )
    add_common(p)
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only)",
    )
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args, settings) -> int:
    import os
    import sys

    from dashboards.serve import ensure_snapshot, streamlit_command

    snap = ensure_snapshot(settings)
    print(f"dashboard on http://{args.host}:{args.port}/ over snapshot {snap.folder} "
          f"(published {snap.published_at:%Y-%m-%d %H:%M:%S} UTC)", flush=True)  # fmt: skip
    cmd, env = streamlit_command(settings, args.host, args.port)
    sys.stderr.flush()
    # become the Streamlit server, so a signal to this process (Ctrl-C, a service manager's
    # SIGTERM) stops the server itself and leaves no orphan behind
    os.execve(cmd[0], cmd, env)
    return 0  # not reached
