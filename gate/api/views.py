"""The scanner API (v1): translate HTTP to operations and back. No business rules here.

Every route but enrolment needs ``Authorization: Bearer <device token>``. Errors are
``{"error": {"code", "message"}}`` with a 4xx status; bad input is never a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from gate.api.bundle import build_bundle
from gate.api.retrying import with_replay_retry
from gate.api.schemas import (
    ApiError,
    batch_items,
    parse_scan,
    scan_response,
)
from gate.api.uploads import Uploader, store_batch
from gate.app import services
from gate.crossings.operations import Origin, record_scan
from gate.db import transaction
from gate.devices.operations import (
    DeviceError,
    authenticate,
    contact_due,
    enroll,
    note_contact,
)

api = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BACKLOG = 2**31 - 1


def _now() -> datetime:
    """The server's time (``Services.clock``: real time unless a test injected a clock)."""
    return services().clock()


@api.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.to_json()), error.status


@api.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    code = (error.name or "error").lower().replace(" ", "_")
    status = error.code or 400
    return jsonify({"error": {"code": code, "message": error.description}}), status


def _json_body() -> object:
    problem = "the body must be JSON (Content-Type: application/json)"
    if not request.is_json:
        raise ApiError(400, "bad_json", problem)
    try:
        # Not request.get_json: it lets RecursionError (absurdly nested input) become a 500.
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        body = None
    if body is None:
        raise ApiError(400, "bad_json", problem)
    return body


def _backlog(header: str) -> int | None:
    """The ``X-Checkpoint-Backlog`` count, or None when absent or not a plain number."""
    if not (header.isascii() and header.isdigit()):  # isdigit alone accepts "²"
        return None
    return min(int(header), MAX_BACKLOG)


@dataclass(frozen=True)
class Caller:
    """The authenticated device: where it stands (its gate) and its community."""

    origin: Origin
    community_id: int


def _authenticated(session: Session, now: datetime) -> Caller:
    """Authenticate the calling device inside the caller's transaction: one short query,
    and a write only when its contact is due (see ``contact_due``). A scan thus checks its
    device, decides and records on one connection with one commit."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    backlog = _backlog(request.headers.get("X-Checkpoint-Backlog", ""))
    try:
        device = authenticate(session, token)
    except DeviceError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    if contact_due(device, now=now, backlog=backlog):
        note_contact(session, device, now=now, backlog=backlog)
    return Caller(Origin(gate_id=device.gate_id, device_id=device.device_id), device.community_id)


def _caller() -> Caller:
    """:func:`_authenticated` in a transaction of its own (for batch uploads and bundles)."""
    with transaction(services().sessions) as session:
        return _authenticated(session, _now())


@api.post("/devices/enroll")
def enroll_device() -> tuple[Response, int]:
    """Trade a one-time enrolment code for a device token."""
    body = _json_body()
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise ApiError(422, "invalid_field", "code: the one-time enrolment code is required")
    with transaction(services().sessions) as session:
        try:
            device, token = enroll(session, code=code, now=_now())
        except DeviceError as exc:
            raise ApiError(403, exc.code, exc.message) from None
        community = device.gate.community
        answer = {
            "device_id": device.id,
            "token": token,
            "gate": {"id": device.gate.id, "code": device.gate.code, "name": device.gate.name},
            "community": {
                "id": community.id,
                "name": community.name,
                "timezone": community.timezone,
            },
        }
    return jsonify(answer), 201


@api.post("/scans")
def scan() -> Response:
    """Decide and record one crossing online; replays return the stored verdict."""
    now = _now()
    svc = services()

    def work(session: Session) -> dict[str, Any]:
        caller = _authenticated(session, now)
        scan_request = parse_scan(_json_body(), now=now)
        context = svc.contexts.get(session, caller.community_id)
        recorded = record_scan(
            session, context=context, origin=caller.origin, request=scan_request, now=now
        )
        return scan_response(
            recorded.crossing,
            replay=recorded.replay,
            household_label=recorded.household_label,
            timezone=context.timezone,
        )

    return jsonify(with_replay_retry(svc.sessions, work))


@api.post("/crossings/batch")
def upload_batch() -> Response:
    """Store crossings decided offline (see :mod:`gate.api.uploads`); report per item."""
    caller = _caller()
    items = batch_items(_json_body())
    svc = services()
    uploader = Uploader(caller.origin, caller.community_id, svc.sessions, svc.contexts)
    return jsonify({"results": store_batch(uploader, items, now=_now())})


@api.get("/bundle")
def bundle() -> Response:
    """What a scanner needs to decide offline; ETag / If-None-Match gives 304."""
    caller = _caller()
    with transaction(services().sessions, read_only=True) as session:
        body, etag = build_bundle(session, caller.community_id, now=_now())
    response = Response(status=304) if request.if_none_match.contains(etag) else jsonify(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response
