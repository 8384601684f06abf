"""HTTPS and plain HTTP on one port, and what plain HTTP may reach.

A phone that does not trust the local authority yet cannot open an https page without a
warning, and a person told "open http://192.168.1.5:5000" should land somewhere useful. So
``checkpoint serve --tls`` serves both on its one port: :class:`SniffingContext` looks at a
connection's first byte (a TLS handshake starts with 0x16, an HTTP request with a letter)
and wraps only TLS connections. :class:`PlainHttpGuard` then lets a plain connection reach
only the CA page, its downloads and the static files; ``/`` goes to the CA page and every
other path is redirected (307, never cached for good) to the same address over https.
"""

from __future__ import annotations

import html
import socket
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

TLS_HANDSHAKE = 0x16
PEEK_TIMEOUT_SECONDS = 10.0
"""A client that connects and says nothing holds a worker thread at most this long."""
PLAIN_HTTP_PATHS = ("/ca",)
PLAIN_HTTP_PREFIXES = ("/ca/", "/static/")
"""What a plain HTTP connection may fetch: the CA page and downloads, and their styles."""

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the certificate chain loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(certfile), keyfile=str(keyfile))
    context.set_alpn_protocols(["http/1.1"])
    return context


class SniffingContext:
    """Quacks like the :class:`ssl.SSLContext` gunicorn wraps each connection with: TLS
    connections come back wrapped, plain HTTP ones come back as they are."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context

    def wrap_socket(self, sock: socket.socket, **options: Any) -> socket.socket:
        """Wrap ``sock`` in TLS if the client opened with a TLS handshake."""
        previous = sock.gettimeout()
        sock.settimeout(PEEK_TIMEOUT_SECONDS)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.settimeout(previous)
        if first and first[0] == TLS_HANDSHAKE:
            return self.context.wrap_socket(sock, **options)
        return sock


def gunicorn_ssl_context(context: ssl.SSLContext) -> Callable[[Any, Any], SniffingContext]:
    """A gunicorn ``ssl_context`` hook returning one :class:`SniffingContext` around
    ``context`` (made once, not per connection)."""
    sniffing = SniffingContext(context)

    def hook(_config: Any, _default_factory: Any) -> SniffingContext:
        return sniffing

    return hook


class PlainHttpGuard:
    """WSGI middleware: marks each request http or https by its connection, and keeps plain
    HTTP to the CA page (``/`` -> ``/ca``; other paths -> the same URL over https)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        secure = isinstance(environ.get("gunicorn.socket"), ssl.SSLSocket)
        environ["wsgi.url_scheme"] = "https" if secure else "http"
        path = environ.get("PATH_INFO") or "/"
        if secure or path in PLAIN_HTTP_PATHS or path.startswith(PLAIN_HTTP_PREFIXES):
            return self.app(environ, start_response)
        if path == "/":
            return _redirect(start_response, "302 Found", "/ca")
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        query = environ.get("QUERY_STRING")
        target = f"https://{host}{quote(path)}" + (f"?{query}" if query else "")
        return _redirect(start_response, "307 Temporary Redirect", target)


def _redirect(start_response: StartResponse, status: str, location: str) -> list[bytes]:
    shown = html.escape(location)
    body = f'<a href="{shown}">{shown}</a>\n'.encode()
    start_response(
        status,
        [
            ("Location", location),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]
