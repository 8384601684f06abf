"""The gate view: ``/gate`` in a phone or tablet browser, for logged-in gate users.

The page scans with the device camera (``gate.js``), takes the temperature on a keypad and
posts JSON to ``/gate/scan`` (or ``/gate/manual`` with the card's manual code) with the
session cookie and the CSRF header. Answers have the scanner API's shape
(:func:`gate.api.schemas.scan_response`) plus the reason in the page's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from gate.api.schemas import ApiError, parse_scan, scan_response
from gate.crossings.browser import (
    MAX_OVERRIDE_REASON,
    OVERRIDE_ROLES,
    OverrideNotAllowed,
    OverrideReasonMissing,
    record_browser_scan,
    supervisor_override,
)
from gate.crossings.operations import CrossingError, Origin, ScanRequest, card_label
from gate.crossings.supervisors import Supervisor
from gate.devices.queries import gate_of, gates_of
from gate.gateview import offline as _offline_routes  # noqa: F401  (registers its routes)
from gate.gateview import vehicles as _vehicle_routes  # noqa: F401  (registers its routes)
from gate.gateview import walk_ins as _walk_in_routes  # noqa: F401  (registers its routes)
from gate.gateview.blueprint import GATE_SESSION_KEY, GateError, gateview
from gate.gateview.offline import GATE_PAGE_POLICY, offline_reasons
from gate.issuing.manual_codes import UnknownManualCode, manual_pass_text
from gate.roster.duty_line import duty_slots, slot_at
from gate.services import now, services
from gate.visitors.scans import record_visitor_scan
from gate.web.auth import GATE_ROLES, current_community_id, require_role
from gate.web.i18n import is_chinese
from gate.web.json_body import json_object
from gate.web.unit_of_work import db_session, request_unit, writes
from passes import CountKind, Override, format_utc, is_supervisor_card, is_visitor_pass

__all__ = ["gateview"]  # the blueprint, with the routes of this module and of offline.py


@gateview.get("")
@require_role(*GATE_ROLES)
def screen() -> str | BaseResponse:
    """The full-screen gate page (or the gate chooser on first use)."""
    db = db_session()
    community_id = current_community_id()
    gate = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
    if gate is None:
        gates = gates_of(db, community_id)
        if len(gates) != 1:
            return render_template("gateview/choose.html", gates=gates, current_gate_id=None)
        gate = gates[0]
        session[GATE_SESSION_KEY] = gate.id
    context = services().contexts.get(db, community_id)
    duty = duty_slots(db, gate.id, community_id, now())
    page = render_template(
        "gateview/gate.html",
        duty_json=[slot.to_json() for slot in duty],
        duty_now=slot_at(duty, now()),
        gate_id=gate.id,
        gate_name=gate.name,
        community_name=context.name,
        timezone=context.timezone,
        temperature_required=context.rules.temperature.required,
        count_people=context.rules.count is CountKind.PEOPLE,
        can_override=_role() in OVERRIDE_ROLES,
        operator=_display_name(),
        user_id=int(current_user.id),
        reasons=offline_reasons(_lang()),
        lang=_lang(),
    )
    response = make_response(page)
    # The page's QR decoder is WebAssembly (zxing-cpp), compiled from /static only.
    response.headers["Content-Security-Policy"] = GATE_PAGE_POLICY
    return response


@gateview.get("/choose")
@require_role(*GATE_ROLES)
def chooser() -> str:
    """The gate chooser (切换出入口 on the gate page): every gate, none preselected."""
    db = db_session()
    community_id = current_community_id()
    current = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
    return render_template(
        "gateview/choose.html",
        gates=gates_of(db, community_id),
        current_gate_id=None if current is None else current.id,
    )


@gateview.post("/choose")
@require_role(*GATE_ROLES)
def choose() -> BaseResponse:
    """Remember the chosen gate for this login session (writes nothing to the database)."""
    gate = gate_of(db_session(), _int(request.form.get("gate_id")), current_community_id())
    if gate is not None:
        session[GATE_SESSION_KEY] = gate.id
    return redirect(url_for("gateview.screen"))


# ``writes`` sits above ``require_role`` here: the first query of a gate-view request is the
# login's user lookup, and a lost connection must be retried there too (the scanner API has
# no login, so its first query is already inside the retry).
@gateview.post("/scan")
@writes(retry=True)
@require_role(*GATE_ROLES)
def scan() -> Response:
    """Decide and record one crossing from a scanned code.

    Run once more when the first run lost the race for its client id (a concurrent replay:
    the second run replays it) or its database connection."""
    body = json_object()
    return _decide(body, lambda: body.get("pass"))


@gateview.post("/manual")
@writes(retry=True)
@require_role(*GATE_ROLES)
def manual() -> Response:
    """Decide and record one crossing from a card's typed manual code (e.g. ``K7QM-2XPA``)."""
    body = json_object()
    community_id = current_community_id()

    def text_of() -> object:
        try:
            return manual_pass_text(db_session(), community_id=community_id, code=body.get("code"))
        except UnknownManualCode:
            raise GateError(404, "unknown_manual_code", _("No card has this code.")) from None

    return _decide(body, text_of)


@gateview.post("/manual/check")
@require_role(*GATE_ROLES)
def manual_check() -> Response:
    """Whether a typed manual code names a card of this community, before the temperature is
    asked for (so a typo is corrected at once). Reads only; records nothing. A POST with the
    CSRF header, as the code is a card's credential (kept out of URLs and access logs)."""
    body = json_object()
    try:
        manual_pass_text(db_session(), community_id=current_community_id(), code=body.get("code"))
    except UnknownManualCode:
        raise GateError(404, "unknown_manual_code", _("No card has this code.")) from None
    return jsonify({"known": True})


def _decide(body: dict[str, Any], pass_of: Callable[[], object]) -> Response:
    at = now()
    community_id = current_community_id()
    override = _override(body.get("override"))
    by_card = override is not None and override.card is not None
    db = db_session()
    gate = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
    if gate is None:
        raise GateError(409, "no_gate", _("Choose the gate first: reload the page."))
    scan_request = replace(_scan_request(body, pass_of(), at), override=override, client_time=False)
    context = services().contexts.get(db, community_id)
    # The override's credential: a supervisor card shown at the gate (checked by the crossings
    # feature at the scan's time), else the login of a user whose role may override.
    supervisor = (
        None
        if override is None or by_card
        else Supervisor(int(current_user.id), community_id, _display_name())
    )
    try:
        if is_visitor_pass(scan_request.pass_text):  # an outsider's pass: gate.visitors decides
            origin = Origin(gate_id=gate.id, user_id=int(current_user.id))
            recorded = record_visitor_scan(
                db, context=context, origin=origin, request=scan_request, now=at
            )
        else:
            recorded = record_browser_scan(
                db,
                context=context,
                gate_id=gate.id,
                user_id=int(current_user.id),
                request=scan_request,
                now=at,
                supervisor=supervisor,
            )
    except CrossingError as exc:
        request_unit().commit()  # the office's crossing.id_reuse event
        raise GateError(409, exc.code, _(exc.message_id, **exc.params)) from None
    answer = scan_response(
        recorded,
        replay=recorded.replay,
        household_label=recorded.household_label,
        timezone=context.timezone,
    )
    return jsonify(_for_screen(answer, context.timezone))


def _scan_request(body: dict[str, Any], pass_text: object, at: datetime) -> ScanRequest:
    """The scan as the API parses it, with the server's time and the user as operator."""
    try:
        return parse_scan(
            {
                "id": body.get("id"),
                "pass": pass_text,
                "direction": body.get("direction"),
                "temperature": body.get("temperature"),
                "scanned_at": format_utc(at),
                "operator": _display_name(),
                "people": body.get("people"),
            },
            now=at,
        )
    except ApiError as exc:
        message = _("The scan could not be read: reload the page and scan again.")
        raise GateError(exc.status, exc.code, message) from None


def _override(value: object) -> Override | None:
    if value is None:
        return None
    reason = value.get("reason") if isinstance(value, dict) else None
    card = value.get("card") if isinstance(value, dict) else None
    if isinstance(card, str) and is_supervisor_card(card):
        # Anyone at the gate may hold up a supervisor's card: the card is the credential.
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_OVERRIDE_REASON:
            message = _(
                "An override needs a reason of at most %(limit)d characters.",
                limit=MAX_OVERRIDE_REASON,
            )
            raise GateError(422, "invalid_field", message)
        holder = f"主管卡 {card_label(card) or ''}".strip()
        return Override(supervisor=holder, reason=reason.strip(), card=card)
    try:
        return supervisor_override(_role(), _display_name(), reason)
    except OverrideNotAllowed:
        message = _("Only a supervisor may let a refused person through.")
        raise GateError(403, "override_not_allowed", message) from None
    except OverrideReasonMissing as exc:
        message = _("An override needs a reason of at most %(limit)d characters.", limit=exc.limit)
        raise GateError(422, "invalid_field", message) from None


def _for_screen(answer: dict[str, Any], timezone: str) -> dict[str, Any]:
    """Add what the page shows as text: the reason in its language, the local next outing."""
    verdict = answer["verdict"]
    next_exit = answer.get("next_exit_at")
    local = None
    if next_exit is not None:
        moment = datetime.fromisoformat(next_exit.replace("Z", "+00:00"))
        local = moment.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M")
    reason = verdict["reason_zh"] if is_chinese() else verdict["reason_en"]
    return {**answer, "reason": reason, "next_exit_local": local}


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _role() -> str:
    return str(current_user.role)


def _display_name() -> str:
    name = getattr(current_user, "display_name", None) or current_user.username
    return str(name)[:64]


def _lang() -> str:
    """The page's language as the gate script names it."""
    return "zh" if is_chinese() else "en"
