"""The scanner API (v1): translate HTTP to operations and back. No business rules here.

Every route but enrolment needs ``Authorization: Bearer <device token>``. Errors are
``{"error": {"code", "message"}}`` with a 4xx status; bad input is never a 500.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from gate.api.bundle import build_bundle
from gate.api.schemas import (
    ApiError,
    batch_items,
    item_id,
    parse_offline_claim,
    parse_scan,
    scan_response,
)
from gate.app import services
from gate.crossings.models import Crossing
from gate.crossings.operations import Origin, record_rejected_upload, record_scan
from gate.db import is_lost_connection, transaction
from gate.devices.operations import (
    DeviceError,
    authenticate,
    contact_due,
    enroll,
    note_contact,
)

api = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BACKLOG = 2**31 - 1
UNNAMED_UPLOADS = uuid.UUID("5d0c3c1e-7a44-4f4e-9a55-0b3f1c2d9e61")
"""Namespace of the ids given to uploaded items that carry no usable UUID of their own."""


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

    return jsonify(_with_replay_retry(work))


@api.post("/crossings/batch")
def upload_batch() -> Response:
    """Store crossings decided offline, one transaction each; report per item."""
    caller = _caller()
    items = batch_items(_json_body())
    return jsonify(
        {
            "results": [
                _store_offline_item(caller.origin, caller.community_id, item) for item in items
            ]
        }
    )


def _store_offline_item(origin: Origin, community_id: int, item: object) -> dict[str, Any]:
    svc = services()
    now = _now()
    client_id = item_id(item)
    if client_id is None:
        # Kept all the same, under an id derived from the device and the item's content,
        # so uploading the same unreadable item again stores nothing new.
        content = _raw_json(item, canonical=True)
        derived = str(uuid.uuid5(UNNAMED_UPLOADS, f"{origin.device_id}:{content}"))
        error = ApiError(422, "invalid_field", "id: must be a UUID string")
        return {**_store_rejected(origin, community_id, derived, item, error, now), "id": None}
    try:
        scan_request = parse_scan(item, now=now)
        claim = parse_offline_claim(item.get("verdict") if isinstance(item, dict) else None)
    except ApiError as exc:
        return _store_rejected(origin, community_id, client_id, item, exc, now)

    def work(session: Session) -> dict[str, Any]:
        context = svc.contexts.get(session, community_id)
        recorded = record_scan(
            session, context=context, origin=origin, request=scan_request, now=now, offline=claim
        )
        crossing = recorded.crossing
        return {
            "id": client_id,
            "status": "duplicate" if recorded.replay else "stored",
            "crossing_id": crossing.id,
            "conflict": crossing.conflict,
            "conflict_code": crossing.conflict_code,
            "error": None,
        }

    return _with_replay_retry(work)


def _store_rejected(
    origin: Origin,
    community_id: int,
    client_id: str,
    item: object,
    error: ApiError,
    now: datetime,
) -> dict[str, Any]:
    svc = services()

    def work(session: Session) -> dict[str, Any]:
        existing = session.scalar(select(Crossing).where(Crossing.client_id == client_id))
        if existing is not None and not existing.rejected:
            # This UUID was stored as a valid crossing before: the scanner has it acknowledged.
            return {
                "id": client_id,
                "status": "duplicate",
                "crossing_id": existing.id,
                "conflict": existing.conflict,
                "conflict_code": existing.conflict_code,
                "error": None,
            }
        if existing is None:
            context = svc.contexts.get(session, community_id)
            existing = record_rejected_upload(
                session,
                context=context,
                origin=origin,
                client_id=client_id,
                raw=_raw_json(item),
                reason=error.message,
                now=now,
            )
        return {
            "id": client_id,
            "status": "rejected",
            "crossing_id": existing.id,
            "conflict": False,
            "conflict_code": None,
            "error": {"code": error.code, "message": error.message},
        }

    return _with_replay_retry(work)


def _raw_json(item: object, *, canonical: bool = False) -> str:
    """``item`` as JSON text that any database can store (no lone surrogates, no NUL)."""
    text = json.dumps(item, ensure_ascii=False, default=str, sort_keys=canonical)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\ud800" escapes
        text = json.dumps(item, default=str, sort_keys=canonical)
    return text


def _with_replay_retry(work: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a transaction, and once more if the first run lost the race for its
    client id (a concurrent request stored it first: the second run finds it and replays)
    or lost its database connection (the second run gets a fresh one; a commit that did
    land is found again by its client id)."""
    for attempt in range(2):
        try:
            with transaction(services().sessions) as session:
                return work(session)
        except (IntegrityError, DBAPIError) as exc:
            retry = isinstance(exc, IntegrityError) or is_lost_connection(exc)
            if attempt or not retry:
                raise
    raise AssertionError("unreachable")


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
