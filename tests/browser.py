"""A small headless-Chromium driver over the DevTools protocol, for the dashboard's browser
tests: Debian's `chromium` (installed by `make test`), driven through one websocket, no
browser download. Loads a page, waits until a condition holds in the page, takes screenshots."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1400,1000",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not path:
        raise RuntimeError(
            "Debian's chromium is needed for the browser tests: run `make test` (it installs "
            "it as root) or `apt-get install chromium`"
        )
    return path


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="narratives-chromium-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [chromium_path(), *FLAGS, f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.ws = connect(self._page_socket(), max_size=64 * 2**20, open_timeout=30)
        self._ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")

    def _page_socket(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/json/list", timeout=2
                ) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.2)

    def send(self, method: str, **params) -> dict:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def load(self, url: str, ready: str, timeout: float = 90) -> None:
        """Navigate and wait until the JavaScript expression `ready` is true."""
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not self.eval(ready):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: not ready after {timeout}s ({ready})")
            time.sleep(0.3)

    def screenshot(self, path: Path) -> Path:
        height = int(
            self.eval("document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1000")
        )
        self.send("Emulation.setDeviceMetricsOverride", width=1400, height=min(max(height, 1000), 6000),
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        time.sleep(0.8)  # let charts re-lay out to the new size
        data = self.send("Page.captureScreenshot", format="png")["data"]
        self.send("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
