"""The gate view's blueprint, the session key of its gate and the refusals its JSON routes
answer (``{"error": {"code", "message"}}``, the message in the page's language)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_babel import gettext as _

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
