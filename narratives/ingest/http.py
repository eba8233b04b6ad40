"""The one way ingest reads the network: bounded, conservative, and clear when it fails.

Only http and https; no private, loopback, link-local or multicast addresses unless the source
allows them, nor one wrapped in an IPv6 address (NAT64, 6to4): a feed must not be able to make the
tracker probe the analyst's own network or a cloud metadata service. Redirects followed by hand,
at most `max_redirects`, each hop checked again; a timeout on connect and on every read; the body
read in chunks and abandoned as soon as it passes `max_bytes`, so a 50 MB answer costs at most
`max_bytes` of memory and transfer. Text is decoded with the charset the server names, else
the one the document declares (`<meta charset>`, an XML declaration), else detected.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

USER_AGENT = "narrative-tracker/0.1 (+https://github.com/narrative-tracker; research ingest)"
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch that failed, with a reason a person understands. `network` marks failures worth
    retrying later (timeouts, refused connections), as opposed to answers that will not change."""

    def __init__(self, reason: str, network: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.network = network


@dataclass
class Response:
    url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        return decode(self.body, self.headers.get("content-type", ""))


def fetch(
    url: str,
    *,
    client: httpx.Client | None = None,
    allow_private: bool = False,
    timeout_s: float = 20.0,
    max_bytes: int = 10_000_000,
    max_redirects: int = 5,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Response:
    """GET a URL within the limits; raises FetchError with the reason on any failure."""
    own = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    visited = [url]
    try:
        while True:
            check_url(url, allow_private)
            try:
                with client.stream("GET", url, headers=headers, timeout=timeout_s) as resp:
                    if resp.status_code == 304:
                        return Response(url, 304, dict(resp.headers), b"")
                    if resp.is_redirect:
                        target = resp.headers.get("location")
                        if not target:
                            raise FetchError(
                                f"{url}: redirect ({resp.status_code}) without a Location"
                            )
                        url = urljoin(url, target)
                        if url in visited:
                            raise FetchError(f"redirect loop: {' -> '.join(visited + [url])}")
                        visited.append(url)
                        if len(visited) > max_redirects + 1:
                            raise FetchError(
                                f"more than {max_redirects} redirects from {visited[0]}"
                            )
                        continue
                    if resp.status_code >= 400:
                        raise FetchError(
                            f"HTTP {resp.status_code} {resp.reason_phrase} from {url}",
                            network=resp.status_code in (408, 429) or resp.status_code >= 500,
                        )
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(
                            f"{url} is {_mb(int(declared))}, over the {_mb(max_bytes)} limit"
                        )
                    body = bytearray()
                    deadline = time.monotonic() + 3 * timeout_s  # a trickle must end too
                    for chunk in resp.iter_bytes(_CHUNK):
                        body += chunk
                        if time.monotonic() > deadline:
                            raise FetchError(
                                f"{url} took over {3 * timeout_s:g} s to send; stopped",
                                network=True,
                            )
                        if len(body) > max_bytes:
                            raise FetchError(
                                f"{url} sent more than the {_mb(max_bytes)} limit; stopped reading"
                            )
                    return Response(url, resp.status_code, dict(resp.headers), bytes(body))
            except httpx.TimeoutException as exc:
                raise FetchError(
                    f"timed out after {timeout_s:g} s waiting for {url}", network=True
                ) from exc
            except httpx.TransportError as exc:
                raise FetchError(f"could not reach {url}: {exc}", network=True) from exc
    finally:
        if own:
            client.close()


def check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(
            f"{url}: only http and https URLs are fetched, not {parts.scheme or 'none'!r}"
        )
    host = parts.hostname
    if not host:
        raise FetchError(f"{url}: no host name")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"{url}: cannot resolve {host} ({exc.strerror})", network=True) from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        why = not_public(addr)
        if why is not None:
            raise FetchError(
                f"{url}: {host} is a private, loopback or reserved address ({why}); "
                "set allow_private = true on the source if that is intended"
            )


# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local-use): the last 32 bits are an IPv4 address
# the gateway connects to, so 64:ff9b::a9fe:a9fe reaches the cloud metadata service 169.254.169.254
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def not_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a global unicast one (None when it is), also after unwrapping an
    IPv4 address embedded in an IPv6 one (NAT64, 6to4, Teredo, IPv4-mapped): `is_global` alone
    passes those, and multicast."""
    if addr.is_multicast:
        return f"{addr}, multicast"
    if not addr.is_global:
        return str(addr)
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = [addr.ipv4_mapped, addr.sixtofour, addr.teredo[1] if addr.teredo else None]
        if any(addr in net for net in _NAT64):
            embedded.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
        for v4 in embedded:
            if v4 is not None and not_public(v4) is not None:
                return f"{addr}, an IPv6 form of {not_public(v4)}"
    return None


# --- charsets --------------------------------------------------------------------------------
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_ALIASES = {"win-1251": "cp1251", "windows1251": "cp1251", "koi8u": "koi8_u", "x-cp1251": "cp1251"}


def declared_charset(body: bytes, content_type: str = "") -> str | None:
    """The charset named by the Content-Type header, else by the document itself."""
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I)
    if m:
        return m.group(1)
    head = body[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        found = pattern.search(head)
        if found:
            return found.group(1).decode("ascii")
    return None


def decode(body: bytes, content_type: str = "") -> str:
    """Bytes to text: the declared charset when it is known and fits, else UTF-8, else a guess
    (charset-normalizer tells windows-1251 from KOI8-U Cyrillic)."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    name = declared_charset(body, content_type)
    if name:
        codec = _ALIASES.get(name.lower().replace("_", "-"), name)
        try:
            return body.decode(codec)
        except LookupError:
            pass  # an unknown charset name: detect instead
        except UnicodeDecodeError:
            pass  # a wrong declaration: detect instead
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", errors="replace")


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"
