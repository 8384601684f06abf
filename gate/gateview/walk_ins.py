"""The gate view's 无证人员 registration: ``POST /gate/walk-in``.

Body (JSON): ``id`` (the client's UUID), ``kind`` (visitor, delivery, medical, official,
other), ``outcome`` (``turned_back``, or ``handed_over`` for a delivery), optional ``plate``,
``phone``, ``purpose``, ``direction`` (default ``in``) and ``temperature`` (tenths), and
``registered_at`` (UTC, ISO 8601) for one the phone registered offline and sends now.
Answer: the scan answer's shape (the crossing, refused ``no_pass`` or ``handed_over``) plus
``reason`` in the page's language and ``walk_in`` (the registration, phone masked). Bad
input: 422 with the Chinese message, nothing written.
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
from gate.households.fields import mask_phone
from gate.services import now, services
from gate.visitors.fields import VisitorError
from gate.visitors.walk_ins import WalkInReport, register_walk_in
from gate.web.auth import GATE_ROLES, current_community_id, require_role
from gate.web.i18n import is_chinese
from gate.web.json_body import json_object
from gate.web.unit_of_work import db_session, request_unit, writes
from passes import Direction, parse_utc


@gateview.post("/walk-in")
@writes(retry=True)
@require_role(*GATE_ROLES)
def walk_in() -> Response:
    """Register a person without a pass at the session's gate: turned back, or a delivery
    handed over; logged as a refused crossing."""
    body = json_object()
    at = now()
    community_id = current_community_id()
    db = db_session()
    gate = gate_of(db, session.get(GATE_SESSION_KEY), community_id)
    if gate is None:
        raise GateError(409, "no_gate", _("Choose the gate first: reload the page."))
    report = _report(body)
    context = services().contexts.get(db, community_id)
    try:
        registered = register_walk_in(
            db,
            context=context,
            origin=Origin(gate_id=gate.id, user_id=int(current_user.id)),
            report=report,
            now=at,
        )
    except VisitorError as exc:
        raise GateError(422, exc.code, _(exc.message_id, **exc.params)) from None
    except CrossingError as exc:
        request_unit().commit()  # the office's crossing.id_reuse event
        raise GateError(409, exc.code, _(exc.message_id, **exc.params)) from None
    answer = scan_response(
        registered.crossing,
        replay=registered.crossing.replay,
        household_label=None,
        timezone=context.timezone,
    )
    verdict = answer["verdict"]
    record = registered.walk_in
    return jsonify(
        {
            **answer,
            "reason": verdict["reason_zh"] if is_chinese() else verdict["reason_en"],
            "walk_in": {
                "id": record.id,
                "kind": record.kind,
                "outcome": record.outcome.value,
                "plate": record.plate,
                "phone": mask_phone(record.phone),
            },
        }
    )


def _report(body: dict[str, Any]) -> WalkInReport:
    """The registration in ``body``; a bad id or direction is refused 422."""
    client_id = body.get("id")
    try:
        uuid.UUID(str(client_id))
        direction = Direction(str(body.get("direction") or "in"))
        registered_at = parse_utc(body.get("registered_at"))  # set: made offline
    except ValueError:
        message = _("The registration could not be read: reload the page and try again.")
        raise GateError(422, "invalid_field", message) from None
    temperature = body.get("temperature")
    name = getattr(current_user, "display_name", None) or current_user.username
    return WalkInReport(
        client_id=str(client_id),
        kind=body.get("kind"),
        outcome=body.get("outcome") or "turned_back",
        plate=body.get("plate"),
        phone=body.get("phone"),
        purpose=body.get("purpose"),
        direction=direction,
        temperature=temperature,
        operator=str(name)[:64],
        registered_at=registered_at,
    )
