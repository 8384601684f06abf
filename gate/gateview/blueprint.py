"""The gate view's blueprint, the session key of its gate and the refusals its JSON routes
answer (``{"error": {"code", "message"}}``, the message in the page's language).

A POST without a login session (the page was opened offline from the service worker after
the browser restarted, or the login lapsed) fails the CSRF check before the view runs; it is
answered as the view's own login check answers, 401 ``login_required``, so the page can tell
"log in again" from a stale page (still 400 ``csrf`` while logged in)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as BaseResponse

from gate.web.auth import current_account, login_required_response, wants_json
from gate.web.json_body import BadJsonBody

gateview = Blueprint("gateview", __name__, url_prefix="/gate")

GATE_SESSION_KEY = "gateview_gate_id"
"""The gate this browser scans for, chosen on first use and kept in the login session."""


class GateError(Exception):
    """A refusal the page shows: HTTP status, stable code, message in the page's language."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@gateview.errorhandler(GateError)
def _gate_error(error: GateError) -> tuple[Response, int]:
    return jsonify({"error": {"code": error.code, "message": error.message}}), error.status


@gateview.errorhandler(BadJsonBody)
def _bad_json(error: BadJsonBody) -> tuple[Response, int]:
    message = _("The page sent something the server cannot read: reload the page.")
    return jsonify({"error": {"code": error.code, "message": message}}), error.status


@gateview.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> BaseResponse | tuple[Response | str, int]:
    if current_account() is None:
        return login_required_response()  # 401 JSON for the page's scripts
    if wants_json():  # as the app's handler (gate.web.errors) answers
        message = error.description or "CSRF token missing or invalid"
        return jsonify({"error": {"code": "csrf", "message": message}}), 400
    return render_template("errors/400.html", csrf=True), 400
