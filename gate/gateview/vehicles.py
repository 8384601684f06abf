"""The gate view's car entry: ``POST /gate/vehicle``.

Body (JSON): ``id`` (the client's UUID), ``pass`` (a vehicle pass's text, VH1) and/or
``plate`` (what the volunteer typed on the plate keypad), ``direction`` (default ``in``).
Answer: the scan answer's shape (the car's crossing) plus ``reason`` in the page's language,
``plate`` (normalised) and ``label`` (plate and household, or 外地车辆). A plate that is no
plate: 422 with the Chinese message, nothing written.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify, session
from flask_babel import gettext as _
from flask_login import current_user

from gate.api.schemas import scan_response
from gate.crossings.operations import CrossingError, Origin
from gate.devices.queries import gate_of
from gate.gateview.blueprint import GATE_SESSION_KEY, GateError, gateview
from gate.services import now, services
from gate.vehicles.at_gate import VehicleReport, record_vehicle_crossing
from gate.vehicles.errors import PLATE_MESSAGES, VehicleError
from gate.web.auth import GATE_ROLES, current_community_id, require_role
from gate.web.i18n import is_chinese
from gate.web.json_body import json_object
from gate.web.unit_of_work import db_session, request_unit, writes
from passes import Direction
from passes.plates import PROVINCES


@gateview.post("/vehicle")
@writes(retry=True)
@require_role(*GATE_ROLES)
def vehicle() -> Response:
    """Decide and log a car at the session's gate: by its vehicle pass, its typed plate, or
    both (they must agree)."""
    body = json_object()
    at = now()
    community_id = current_community_id()
    db = db_session()
    gate = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
    if gate is None:
        raise GateError(409, "no_gate", _("Choose the gate first: reload the page."))
    report = _report(body, at)
    context = services().contexts.get(db, community_id)
    try:
        recorded = record_vehicle_crossing(
            db,
            context=context,
            origin=Origin(gate_id=gate.id, user_id=int(current_user.id)),
            report=report,
            now=at,
        )
    except VehicleError as exc:
        raise GateError(422, exc.code, _(exc.message_id, **exc.params)) from None
    except CrossingError as exc:
        request_unit().commit()  # the office's crossing.id_reuse event
        raise GateError(409, exc.code, _(exc.message_id, **exc.params)) from None
    answer = scan_response(
        recorded.crossing,
        replay=recorded.crossing.replay,
        household_label=recorded.label,
        timezone=context.timezone,
    )
    verdict = answer["verdict"]
    return jsonify(
        {
            **answer,
            "reason": verdict["reason_zh"] if is_chinese() else verdict["reason_en"],
            "plate": recorded.plate,
            "label": recorded.label,
        }
    )


def _report(body: dict[str, Any], at: Any) -> VehicleReport:
    """The car in ``body``; a bad id, direction or pass field is refused 422."""
    client_id = body.get("id")
    pass_text = body.get("pass")
    plate = body.get("plate")
    try:
        uuid.UUID(str(client_id))
        direction = Direction(str(body.get("direction") or "in"))
        if pass_text is not None and not isinstance(pass_text, str):
            raise ValueError("pass")
        if plate is not None and not isinstance(plate, str):
            raise ValueError("plate")
    except ValueError:
        message = _("The car could not be read: reload the page and try again.")
        raise GateError(422, "invalid_field", message) from None
    name = getattr(current_user, "display_name", None) or current_user.username
    return VehicleReport(
        client_id=str(client_id),
        pass_text=pass_text or None,
        plate=plate or None,
        direction=direction,
        scanned_at=at,
        operator=str(name)[:64],
    )


@gateview.context_processor
def _plate_keypad() -> dict[str, Any]:
    """What the car panel's template needs: the province picker and the plate messages."""
    return {
        "provinces": PROVINCES + "使",
        "plate_problems": {code: _(message) for code, message in PLATE_MESSAGES.items()},
    }
