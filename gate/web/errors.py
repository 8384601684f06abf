"""Error pages in the user's language; JSON errors for the scanner API and for scripts.

The API blueprint keeps its own JSON handlers; this covers everything else, including a
URL under ``/api/`` that matches no route (still answered in JSON).
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response as BaseResponse

from gate.web.auth import login_required_response, wants_json

PAGES = frozenset({400, 403, 404, 500})
"""Status codes with a template ``errors/<code>.html``; others use ``errors/generic.html``."""


def configure_errors(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _json_error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def _csrf_error(error: CSRFError) -> tuple[Response | str, int]:
    if wants_json() or _is_api():
        return _json_error(400, "csrf", error.description or "CSRF token missing or invalid")
    return render_template("errors/400.html", csrf=True), 400


def _http_error(error: HTTPException) -> BaseResponse | tuple[Response | str, int]:
    status = error.code or 500
    if status == 401 and not _is_api():
        return login_required_response()
    if wants_json() or _is_api():
        code = (error.name or "error").lower().replace(" ", "_")
        return _json_error(status, code, error.description or "")
    if status >= 500:
        return _server_error(error)
    template = f"errors/{status}.html" if status in PAGES else "errors/generic.html"
    response = error.get_response()
    body = render_template(template, status=status, name=error.name, csrf=False)
    return Response(body, status=status, headers=_keep_headers(response), mimetype="text/html")


def _server_error(error: HTTPException) -> tuple[Response | str, int]:
    status = error.code if error.code and error.code >= 500 else 500
    if wants_json() or _is_api():
        return _json_error(status, "internal_error", "the server failed; try again")
    try:
        return render_template("errors/500.html", status=status), status
    except TemplateNotFound:  # pragma: no cover - packaging error
        return "Internal Server Error", status


def _keep_headers(response: BaseResponse) -> dict[str, str]:
    # e.g. Allow on 405, Retry-After on 429
    return {k: v for k, v in response.headers.items() if k in ("Allow", "Retry-After")}
