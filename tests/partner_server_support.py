"""A real partner-feed server on 127.0.0.1 for the fetching tests: every way a feed goes wrong.

Each path is a case named for what it shows; the server counts requests and keeps their
headers, so a test can tell what reached it (and that nothing did).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import ssl
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from partner_feeds_support import CORPUS, source

from calendar_service.partner_sources import SourceConfig
from calendar_service.settings import ServiceSettings

FEEDS = CORPUS  # the importer's corpus, served as partners would serve it
LAST_MODIFIED = "Sun, 01 Nov 2026 09:00:00 GMT"
BOMB_BYTES = 200_000_000  # decompressed; about 200 KB as sent


def feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@dataclass
class PartnerServer:
    """What the server serves and what it saw; tests change `bodies` to change a feed."""

    url: str
    bodies: dict[str, bytes]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def hits(self, path: str) -> int:
        return sum(1 for seen, _ in self.requests if urlsplit(seen).path == path)

    def source(self, path: str, source_id: str = "partner") -> SourceConfig:
        """A source whose feed is at `path` on this server."""
        plain = self.url.startswith("http:")
        return source(id=source_id, url=self.url + path, allow_http=plain)


@functools.cache
def bomb() -> bytes:
    """BOMB_BYTES of zeros, gzip-compressed in steps (never held decompressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1_000_000)
    parts = [compressor.compress(block) for _ in range(BOMB_BYTES // len(block))]
    return b"".join(parts) + compressor.flush()


def _handler(server: PartnerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, dict(self.headers.items())))
            parts = urlsplit(self.path)
            name = parts.path.strip("/").split("/")[0]
            query = parse_qs(parts.query, keep_blank_values=True)
            route = getattr(self, "route_" + name.replace("-", "_").removesuffix(".ics"), None)
            if route is None:
                self.send(404, b"not found", "text/plain")
            else:
                route(parts.path, query)

        def send(
            self, status: int, body: bytes, kind: str = "text/calendar", **headers: str
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def served(self, name: str) -> None:
            """A feed from `bodies`, with validators; 304 when the client has this version."""
            body = server.bodies.get(name)
            if body is None:
                self.send(404, b"gone", "text/plain")
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send(200, body, ETag=etag, Last_Modified=LAST_MODIFIED)

        def route_feed(self, path: str, query: dict[str, list[str]]) -> None:
            self.served(path.rsplit("/", 1)[-1])

        def route_slow(self, path: str, query: dict[str, list[str]]) -> None:
            """Headers, then a byte now and then until the client gives up."""
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            try:
                while not server.release.wait(0.05):
                    self.wfile.write(b"B")
                    self.wfile.flush()
            except OSError:
                pass

        def route_silent(self, path: str, query: dict[str, list[str]]) -> None:
            """Nothing at all until the test ends."""
            server.release.wait(60)

        def route_oversized(self, path: str, query: dict[str, list[str]]) -> None:
            size = int(query.get("bytes", ["6000000"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            if "undeclared" not in query:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                sent = 0
                while sent < size:
                    self.wfile.write(b"X" * min(65_536, size - sent))
                    sent += 65_536
            except OSError:
                pass  # the client stopped reading: what the test wants
            self.close_connection = True

        def route_bomb(self, path: str, query: dict[str, list[str]]) -> None:
            self.send(200, bomb(), Content_Encoding="gzip")

        def route_gzipped(self, path: str, query: dict[str, list[str]]) -> None:
            self.send(200, gzip.compress(feed("normal.ics")), Content_Encoding="gzip")

        def route_brotli(self, path: str, query: dict[str, list[str]]) -> None:
            self.send(200, b"\x0b\x02\x80hello\x03", Content_Encoding="br")

        def route_loop(self, path: str, query: dict[str, list[str]]) -> None:
            step = int(path.rsplit("/", 1)[-1] or 0) if path.count("/") > 1 else 0
            self.send(302, b"", "text/plain", Location=f"/loop/{step + 1}")

        def route_redirect(self, path: str, query: dict[str, list[str]]) -> None:
            self.send(302, b"", "text/plain", Location=query["to"][0])

    return Handler


_connections: list[list[tuple[str, int]]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "socket.connect" and _connections:
        address = args[1]
        if isinstance(address, tuple):
            _connections[-1].append((str(address[0]), int(address[1])))


sys.addaudithook(_audit)  # audit hooks stay for the process; it records only inside `connections`


@contextmanager
def connections() -> Iterator[list[tuple[str, int]]]:
    """Every TCP connection this process attempts meanwhile, as (address, port)."""
    seen: list[tuple[str, int]] = []
    _connections.append(seen)
    try:
        yield seen
    finally:
        _connections.remove(seen)


SHUTDOWN_POLL_S = 0.02


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[PartnerServer]:
    bodies = {path.name: path.read_bytes() for path in FEEDS.glob("*.ics")}
    state = PartnerServer("", bodies)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    state.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    # `shutdown` waits for serve_forever's next look at its flag: every 0.5 s by default,
    # so each test that took the server waited about 0.5 s at its end, doing nothing.
    thread = threading.Thread(target=httpd.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def partner() -> Iterator[PartnerServer]:
    """The partner server, serving the fixtures' feeds by name under /feed/."""
    yield from _serve()


TLS_HOST = "partner.example"


@dataclass
class Certificates:
    authority: Path  # the test's own certificate authority, to trust
    certificate: Path  # for TLS_HOST only, signed by it
    key: Path


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A certificate authority and a certificate for TLS_HOST, made by openssl for the tests."""
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=calendar-service test authority",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", f"/CN={TLS_HOST}",
    )  # fmt: skip
    (folder / "leaf.ext").write_text(f"subjectAltName=DNS:{TLS_HOST}\n")
    openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext",
    )  # fmt: skip
    return Certificates(folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key")


@dataclass
class TlsPartner:
    server: PartnerServer
    names: list[str | None]  # the server names (SNI) clients sent


@pytest.fixture
def tls_partner(certificates: Certificates) -> Iterator[TlsPartner]:
    """The partner server over TLS, with a certificate for TLS_HOST; records SNI."""
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates.certificate, certificates.key)

    def record(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record
    for server in _serve(context):
        yield TlsPartner(server, names)


def loopback_settings(tmp_path: Path) -> ServiceSettings:
    """Settings that allow the test server's loopback address, and only that exception."""
    return ServiceSettings(
        data_dir=tmp_path / "data", fetched_dir=tmp_path / "fetched", fetch_allow_loopback=True
    )
