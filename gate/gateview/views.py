"""The gate view: ``/gate`` in a phone or tablet browser, for logged-in gate users.

The page scans with the device camera (``gate.js``), takes the temperature on a keypad and
posts JSON to ``/gate/scan`` (or ``/gate/manual`` with the card's manual code) with the
session cookie and the CSRF header. Answers have the scanner API's shape
(:func:`gate.api.schemas.scan_response`) plus the reason in the page's language.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from gate.api.schemas import ApiError, parse_scan, scan_response
from gate.app import services
from gate.crossings.operations import ScanRequest
from gate.db import transaction
from gate.gateview.operations import (
    OVERRIDE_ROLES,
    OverrideNotAllowed,
    UnknownManualCode,
    gate_of,
    gates_of,
    manual_pass_text,
    record_browser_scan,
    supervisor_override,
)
from gate.web.auth import GATE_ROLES, current_community_id, require_role
from passes import Override, format_utc

gateview = Blueprint("gateview", __name__, url_prefix="/gate")

GATE_SESSION_KEY = "gateview_gate_id"
"""The gate this browser scans for, chosen on first use and kept in the login session."""


@gateview.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.to_json()), error.status


@gateview.get("")
@require_role(*GATE_ROLES)
def screen() -> str | BaseResponse:
    """The full-screen gate page (or the gate chooser on first use)."""
    svc = services()
    community_id = current_community_id()
    with transaction(svc.sessions, read_only=True) as db:
        gate = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
        if gate is None:
            gates = gates_of(db, community_id)
            if len(gates) != 1:
                return render_template("gateview/choose.html", gates=gates)
            gate = gates[0]
            session[GATE_SESSION_KEY] = gate.id
        context = svc.contexts.get(db, community_id)
        gate_name = gate.name
    return render_template(
        "gateview/gate.html",
        gate_name=gate_name,
        community_name=context.name,
        temperature_required=context.rules.temperature.required,
        can_override=_role() in OVERRIDE_ROLES,
        lang=_lang(),
    )


@gateview.post("/choose")
@require_role(*GATE_ROLES)
def choose() -> BaseResponse:
    """Remember the chosen gate for this login session."""
    with transaction(services().sessions, read_only=True) as db:
        gate = gate_of(db, _int(request.form.get("gate_id")), current_community_id())
        if gate is not None:
            session[GATE_SESSION_KEY] = gate.id
    return redirect(url_for("gateview.screen"))


@gateview.post("/scan")
@require_role(*GATE_ROLES)
def scan() -> Response:
    """Decide and record one crossing from a scanned code."""
    body = _json_object()
    return _decide(body, lambda _db: body.get("pass"))


@gateview.post("/manual")
@require_role(*GATE_ROLES)
def manual() -> Response:
    """Decide and record one crossing from a card's typed manual code (e.g. ``K7QM-2XPA``)."""
    body = _json_object()
    community_id = current_community_id()

    def text_of(db: Session) -> object:
        try:
            return manual_pass_text(db, community_id=community_id, code=body.get("code"))
        except UnknownManualCode:
            raise ApiError(404, "unknown_manual_code", "no card with this code") from None

    return _decide(body, text_of)


def _decide(body: dict[str, Any], pass_of: Callable[[Session], object]) -> Response:
    svc = services()
    now = svc.clock()
    community_id = current_community_id()
    override = _override(body.get("override"))
    for attempt in range(2):  # a concurrent replay of the same id: the second run replays it
        try:
            with transaction(svc.sessions) as db:
                gate = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
                if gate is None:
                    raise ApiError(409, "no_gate", "choose the gate first (reload the page)")
                scan_request = replace(_scan_request(body, pass_of(db), now), override=override)
                context = svc.contexts.get(db, community_id)
                recorded = record_browser_scan(
                    db,
                    context=context,
                    gate_id=gate.id,
                    user_id=int(current_user.id),
                    request=scan_request,
                    now=now,
                )
                answer = scan_response(
                    recorded.crossing,
                    replay=recorded.replay,
                    household_label=recorded.household_label,
                    timezone=context.timezone,
                )
                return jsonify(_for_screen(answer, context.timezone))
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _scan_request(body: dict[str, Any], pass_text: object, now: datetime) -> ScanRequest:
    """The scan as the API parses it, with the server's time and the user as operator."""
    return parse_scan(
        {
            "id": body.get("id"),
            "pass": pass_text,
            "direction": body.get("direction"),
            "temperature": body.get("temperature"),
            "scanned_at": format_utc(now),
            "operator": _display_name(),
        },
        now=now,
    )


def _override(value: object) -> Override | None:
    if value is None:
        return None
    reason = value.get("reason") if isinstance(value, dict) else None
    try:
        return supervisor_override(_role(), _display_name(), reason)
    except OverrideNotAllowed:
        raise ApiError(403, "override_not_allowed", "only a supervisor may override") from None
    except ValueError as exc:
        raise ApiError(422, "invalid_field", f"override.reason: {exc}") from None


def _for_screen(answer: dict[str, Any], timezone: str) -> dict[str, Any]:
    """Add what the page shows as text: the reason in its language, the local next outing."""
    verdict = answer["verdict"]
    next_exit = answer.get("next_exit_at")
    local = None
    if next_exit is not None:
        moment = datetime.fromisoformat(next_exit.replace("Z", "+00:00"))
        local = moment.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M")
    reason = verdict["reason_en"] if _lang() == "en" else verdict["reason_zh"]
    return {**answer, "reason": reason, "next_exit_local": local}


def _json_object() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(400, "bad_json", "the body must be JSON")
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return body


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _role() -> str:
    return str(current_user.role)


def _display_name() -> str:
    name = getattr(current_user, "display_name", None) or current_user.username
    return str(name)[:64]


def _lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"
