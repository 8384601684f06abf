"""Browser security: CSRF on every form and non-GET route, security headers, caching policy.

- CSRF (Flask-WTF ``CSRFProtect``) guards every POST/PUT/PATCH/DELETE except the scanner API
  blueprint ``api`` (bearer tokens, no cookies). Forms carry ``{{ csrf_token() }}``; scripts
  (the browser gate view) send it in the ``X-CSRFToken`` header, read from
  ``<meta name="csrf-token">`` in both layouts. Tokens live as long as the login session (no
  time limit: the gate view stays open for a whole shift).
- ``WTF_CSRF_SSL_STRICT`` is off: its Referer check cannot work with
  ``Referrer-Policy: no-referrer`` (browsers then send no Referer at all). The token and the
  SameSite=Lax session cookie carry the protection.
- The scanner API (``/api/``) has no cookie session: scanners authenticate with bearer
  tokens, and opening and re-signing a cookie on every scan would be work for nothing.
- Every response carries the security headers below; HTML and JSON responses are
  ``Cache-Control: no-store`` unless the view opts out with :func:`cacheable` (or sets its own
  Cache-Control).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Request, Response, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from gate.settings import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self)",
    "X-Frame-Options": "DENY",
}
NO_STORE_MIMETYPES = frozenset({"text/html", "application/json"})
_CACHE_SECONDS = "checkpoint_cache_seconds"

_View = TypeVar("_View", bound=Callable[..., Any])

csrf = CSRFProtect()


def configure_security(app: Flask, settings: Settings) -> None:
    """CSRF protection, cookie policy, security headers and the no-store default."""
    # The session cookie (HttpOnly, SameSite=Lax, Secure in production) is set up by
    # gate.app.configure_flask, so config overrides still win.
    if settings.is_production and not app.config.get("SESSION_COOKIE_SECURE"):
        raise RuntimeError("production needs SESSION_COOKIE_SECURE (HTTPS only)")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    csrf.init_app(app)
    app.session_interface = BrowserOnlySessions()
    app.after_request(apply_security_headers)


class BrowserOnlySessions(SecureCookieSessionInterface):
    """Cookie sessions for the browser pages; a read-only empty session for the API."""

    api_prefix = "/api/"

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(self.api_prefix):
            return None  # Flask then uses its NullSession: reads find nothing, writes fail
        return super().open_session(app, request)


def exempt_from_csrf(blueprint: Any) -> None:
    """Exempt a blueprint that authenticates with bearer tokens (the scanner API) from CSRF."""
    csrf.exempt(blueprint)


def cacheable(seconds: int) -> Callable[[_View], _View]:
    """Let browsers keep this view's page for ``seconds`` (``Cache-Control: private``).

    For pages that must open without a network (the resident's phone pass). Every other
    HTML page is ``no-store``.
    """
    if seconds < 0:
        raise ValueError("seconds must not be negative")

    def decorator(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            setattr(g, _CACHE_SECONDS, seconds)
            return view(*args, **kwargs)

        return cast(_View, wrapper)

    return decorator


def apply_security_headers(response: Response) -> Response:
    """Add the security headers, and the caching policy, to ``response``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    seconds = getattr(g, _CACHE_SECONDS, None)
    if seconds is not None:
        response.headers["Cache-Control"] = f"private, max-age={int(seconds)}"
    elif (
        response.mimetype in NO_STORE_MIMETYPES
        and "Cache-Control" not in response.headers
        and request.endpoint != "static"
    ):
        response.headers["Cache-Control"] = "no-store"
    return response
