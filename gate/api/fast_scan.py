"""``POST /api/v1/scans`` without Flask's per-request machinery: the gate's hot path.

Every gate posts each scan here, so the deployed app (``gate.wsgi``) answers an ordinary scan
with a small WSGI handler in front of Flask: no request context, no werkzeug request or
response objects, no routing, no before/after hooks. It does what the Flask view
(:func:`gate.api.views.scan`) does, with the view's own pieces: the same parsing
(:func:`parse_online_scan`), device check-in (:func:`check_in_caller`), recording
(:func:`record_online`) and answer (:func:`scan_answer`), in one unit of work run at most
twice (``writes(retry=True)``'s rule: once more after a lost race for the client id or a
lost connection), and the same bytes out: Flask's JSON, its headers, the security and
caching headers of :func:`gate.web.security.apply_security_headers`.

Only the plain case is answered here: a JSON body with its ``Content-Length``, read, valid,
from a known device, answered 200 (a new crossing or a replay). Anything else (an error of
any kind, an override with a supervisor's password, an exception) is handed to the Flask
app with the body as read and any work here rolled back, so every error answer, every log
line and every rare path stays the Flask view's, byte for byte.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from gate.api.schemas import ApiError, parse_online_scan
from gate.api.views import check_in_caller, record_online, scan_answer
from gate.crossings.operations import CrossingError
from gate.services import EXTENSION_KEY, Services
from gate.unit_of_work import UnitOfWork, is_retryable
from gate.web.security import SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SCAN_PATH = "/api/v1/scans"
MAX_FAST_BODY = 64 * 1024
"""A scan body is a few hundred bytes; a larger one (up to Flask's limit) goes to Flask."""
JSON_TYPE = "application/json"


class FastScans:
    """WSGI middleware: answers an ordinary ``POST /api/v1/scans`` itself, hands every other
    request (and every scan it does not answer) to ``inner`` (the Flask app's WSGI callable)."""

    def __init__(self, app: Flask, inner: WSGIApplication) -> None:
        self._inner = inner
        self._services: Services = app.extensions[EXTENSION_KEY]
        self._dumps = _flask_dumps(app)
        self._headers = [
            ("Content-Type", JSON_TYPE),
            *SECURITY_HEADERS.items(),
            ("Cache-Control", "no-store"),
        ]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == SCAN_PATH and environ.get("REQUEST_METHOD") == "POST":
            body = self._answer(environ)
            if body is not None:
                headers = self._headers.copy()
                headers.insert(1, ("Content-Length", str(len(body))))
                start_response("200 OK", headers)
                return [body]
        return self._inner(environ, start_response)

    def _answer(self, environ: WSGIEnvironment) -> bytes | None:
        """The 200 answer's body, or None: Flask answers (``wsgi.input`` still readable)."""
        length = environ.get("CONTENT_LENGTH", "")
        if (
            environ.get("CONTENT_TYPE") != JSON_TYPE
            or not (length.isascii() and length.isdigit())
            or int(length) > MAX_FAST_BODY
            or "HTTP_TRANSFER_ENCODING" in environ
        ):
            return None
        try:
            data = environ["wsgi.input"].read(int(length))
        except Exception as exc:  # a client gone mid-body: Flask meets the same error
            environ["wsgi.input"] = _Failing(exc)
            return None
        environ["wsgi.input"] = io.BytesIO(data)  # for Flask, should it answer
        if len(data) != int(length):
            return None
        try:
            body = json.loads(data)  # as gate.web.json_body reads it
        except (ValueError, RecursionError):
            return None
        if body is None:
            return None
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        backlog = environ.get("HTTP_X_CHECKPOINT_BACKLOG", "")
        for attempt in range(2):  # gate.web.unit_of_work.writes(retry=True)
            unit = UnitOfWork(self._services.sessions, writes=True)
            try:
                answer = self._attempt(unit, body, authorization, backlog)
                if answer is None:
                    return None
                unit.commit()
                return answer
            except Exception as exc:  # Flask runs it again: answers (and logs) whatever it is
                if attempt or not is_retryable(exc):
                    return None
            finally:
                unit.close()
        return None  # pragma: no cover - the loop returns

    def _attempt(
        self, unit: UnitOfWork, body: object, authorization: str, backlog: str
    ) -> bytes | None:
        at = self._services.clock()
        try:
            scan_request, credential = parse_online_scan(body, now=at)
        except ApiError:
            return None
        if credential is not None:  # a password to check between two commits: the view's
            return None
        session = unit.session
        try:
            caller = check_in_caller(session, at, authorization=authorization, backlog=backlog)
        except ApiError:
            return None
        context = self._services.contexts.get(session, caller.community_id)
        try:
            recorded = record_online(
                session, context=context, origin=caller.origin, scan_request=scan_request, at=at
            )
        except CrossingError:  # id_reuse: the view commits the office's event and answers 409
            return None
        return (self._dumps(scan_answer(recorded, context.timezone)) + "\n").encode()


class _Failing(io.RawIOBase):
    """An input stream whose every read raises the error the real one raised."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: Any) -> int:
        raise self._error


def _flask_dumps(app: Flask) -> Callable[[Any], str]:
    """``jsonify``'s serialiser for ``app`` (its JSON provider's ``dumps`` with the arguments
    ``DefaultJSONProvider.response`` adds)."""
    provider = app.json
    if not isinstance(provider, DefaultJSONProvider):  # pragma: no cover - not configured
        raise TypeError("the fast scan path reproduces DefaultJSONProvider's answers only")
    if (provider.compact is None and app.debug) or provider.compact is False:
        return lambda value: provider.dumps(value, indent=2)
    return lambda value: provider.dumps(value, separators=(",", ":"))


def install(app: Flask) -> Flask:
    """Put the fast scan path in front of ``app``'s WSGI callable, outside its middleware
    (ProxyFix: a scan reads no client address, scheme or host); returns ``app``."""
    app.wsgi_app = FastScans(app, app.wsgi_app)  # type: ignore[method-assign]
    return app
