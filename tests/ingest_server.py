"""A real HTTP server on 127.0.0.1 for the ingest tests: serves the fixtures of
tests/data/ingest/ and a few endpoints that misbehave on purpose."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).parent / "data" / "ingest"
BIG_BYTES = 50 * 1024 * 1024
# served with a charset in the header only (KOI8-U) or a wrong one (the page is windows-1251)
HEADER_TYPES = {
    "/pages/uk-koi8u.html": "text/html; charset=koi8-u",
    "/pages/ru-wrong-charset.html": "text/html; charset=utf-8",
}


class FixtureServer:
    def __init__(self):
        self.changing_items = 5  # how many items /feeds/changing.xml carries
        self.big_sent = 0  # bytes of /big written before the client hung up
        self.hits: dict[str, int] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                route = {
                    "/feeds/changing.xml": self.changing,
                    "/feeds/huge.xml": self.huge,
                    "/slow": self.slow,
                    "/big": self.big,
                    "/loop/a": lambda: self.redirect("/loop/b"),
                    "/loop/b": lambda: self.redirect("/loop/a"),
                }.get(path, lambda: self.static(path))
                route()

            def send(self, body: bytes, ctype: str, status: int = 200):
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("ETag", etag)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the slow endpoint): that is the point

            def static(self, path: str):
                file = (ROOT / path.lstrip("/")).resolve()
                if ROOT not in file.parents or not file.is_file():
                    self.send_error(404, "Not Found")
                    return
                body = file.read_bytes().replace(b"{base}", server.base.encode())
                ctype = HEADER_TYPES.get(path) or (
                    "application/atom+xml" if "atom" in file.name
                    else "application/rss+xml" if file.suffix == ".xml" else "text/html"
                )  # fmt: skip
                self.send(body, ctype)

            def changing(self):
                texts = json.loads((ROOT / "feeds" / "changing-items.json").read_text("utf-8"))
                items = "".join(
                    f"<item><title>Story {i}</title><guid>c-{i}</guid>"
                    f"<link>http://example.org/c/{i}</link>"
                    f"<pubDate>Mon, {i + 1:02d} Apr 2024 10:00:00 GMT</pubDate>"
                    f"<description>{text}</description></item>"
                    for i, text in enumerate(texts[: server.changing_items], 1)
                )
                body = (
                    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                    f"<title>Changing</title><link>http://example.org/</link>{items}</channel></rss>"
                )
                self.send(body.encode(), "application/rss+xml")

            def huge(self):
                words = " ".join(f"word{i % 997}" for i in range(40_000))  # about 300 000 chars
                body = (ROOT / "feeds" / "huge.xml.in").read_text("utf-8").replace("{huge}", words)
                self.send(body.encode(), "application/rss+xml")

            def slow(self):
                time.sleep(3)
                self.send(b"<html><body><p>too late</p></body></html>", "text/html")

            def big(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()  # no Content-Length: only the reader's cap can stop it
                chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
                try:
                    while server.big_sent < BIG_BYTES:
                        self.wfile.write(chunk)
                        server.big_sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def redirect(self, to: str):
                self.send_response(302)
                self.send_header("Location", to)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
