"""The offline bundle of a gate, as the scanner API and the phone gate both serve it.

One place gathers what a gate decides offline with (household states, passes, supervisor
cards, revoked and used visitor and vehicle pass ids, zone locks, the gate's duty shifts), so a
scanner and a phone at the same gate always get the same bundle (same content hash).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from gate.devices.bundle import build_bundle
from gate.roster.duty_line import bundle_duty
from gate.supervisors.operations import bundle_cards
from gate.unit_of_work import DbSession
from gate.vehicles.issuing import revoked_vehicle_pass_ids
from gate.visitors.queries import bundle_visitor_ids
from gate.zones.queries import bundle_locks


def gate_bundle(
    session: DbSession, community_id: int, gate_id: int | None, at: datetime
) -> tuple[dict[str, Any], str]:
    """The bundle of ``community_id`` for the gate ``gate_id`` (None: no gate chosen yet, so
    no duty shifts) at ``at``, and its ETag."""
    cards, revoked_cards = bundle_cards(session, community_id, now=at)
    visitor_ids = bundle_visitor_ids(session, community_id, now=at)
    return build_bundle(
        session,
        community_id,
        now=at,
        supervisor_cards=cards,
        revoked_card_ids=revoked_cards,
        extra_revoked_pass_ids=(
            *revoked_vehicle_pass_ids(session, community_id, now=at),
            *visitor_ids.revoked,
        ),
        used_visitor_pass_ids=visitor_ids.used,
        zone_locks=bundle_locks(session, community_id, at),
        duty=None if gate_id is None else bundle_duty(session, gate_id, at),
    )


def bundle_response(body: dict[str, Any], etag: str) -> Response:
    """The bundle as JSON, or 304 when the caller's ETag is current; never cached unchecked."""
    response = Response(status=304) if request.if_none_match.contains(etag) else jsonify(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response
