"""The scanner API (v1): translate HTTP to operations and back. No business rules here.

Every route but enrolment needs ``Authorization: Bearer <device token>``. Errors are
``{"error": {"code", "message"}}`` with a 4xx status; bad input is never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import IntegrityError
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
from gate.crossings.operations import Origin, record_rejected_upload, record_scan
from gate.db import transaction
from gate.devices.models import Device
from gate.devices.operations import DeviceError, authenticate, enroll, note_contact

api = Blueprint("api", __name__, url_prefix="/api/v1")


def _now() -> datetime:
    return datetime.now(UTC)


@api.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.to_json()), error.status


@api.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    code = (error.name or "error").lower().replace(" ", "_")
    status = error.code or 400
    return jsonify({"error": {"code": code, "message": error.description}}), status


def _json_body() -> object:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "bad_json", "the body must be JSON (Content-Type: application/json)")
    return body


def _device_id() -> int:
    """Authenticate the calling device in its own short transaction; return its id."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    backlog = request.headers.get("X-Checkpoint-Backlog", "")
    with transaction(services().sessions) as session:
        try:
            device = authenticate(session, token)
        except DeviceError as exc:
            raise ApiError(401, exc.code, exc.message) from None
        note_contact(device, now=_now(), backlog=int(backlog) if backlog.isdigit() else None)
        return device.id


def _origin_and_community(session: Any, device_id: int) -> tuple[Origin, int]:
    device = session.get(Device, device_id)
    return Origin(gate_id=device.gate_id, device_id=device.id), device.gate.community_id


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
    device_id = _device_id()
    now = _now()
    scan_request = parse_scan(_json_body(), now=now)
    svc = services()

    def work(session: Any) -> dict[str, Any]:
        origin, community_id = _origin_and_community(session, device_id)
        context = svc.contexts.get(session, community_id)
        recorded = record_scan(
            session, context=context, origin=origin, request=scan_request, now=now
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
    device_id = _device_id()
    items = batch_items(_json_body())
    return jsonify({"results": [_store_offline_item(device_id, item) for item in items]})


def _store_offline_item(device_id: int, item: object) -> dict[str, Any]:
    svc = services()
    now = _now()
    client_id = item_id(item)
    if client_id is None:
        error = {"code": "invalid_field", "message": "id: must be a UUID string"}
        return {
            "id": None,
            "status": "rejected",
            "crossing_id": None,
            "conflict": False,
            "conflict_code": None,
            "error": error,
        }
    try:
        scan_request = parse_scan(item, now=now)
        claim = parse_offline_claim(item.get("verdict") if isinstance(item, dict) else None)
    except ApiError as exc:
        return _store_rejected(device_id, client_id, item, exc, now)

    def work(session: Any) -> dict[str, Any]:
        origin, community_id = _origin_and_community(session, device_id)
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
    device_id: int, client_id: str, item: object, error: ApiError, now: datetime
) -> dict[str, Any]:
    svc = services()
    import json

    def work(session: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from gate.crossings.models import Crossing

        existing = session.scalar(select(Crossing).where(Crossing.client_id == client_id))
        if existing is None:
            origin, community_id = _origin_and_community(session, device_id)
            context = svc.contexts.get(session, community_id)
            existing = record_rejected_upload(
                session,
                context=context,
                origin=origin,
                client_id=client_id,
                raw=json.dumps(item, ensure_ascii=False, default=str),
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


def _with_replay_retry(work: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a transaction; if a concurrent request stored the same client id
    first (unique violation), run it again: the second run finds it and replays."""
    for attempt in range(2):
        try:
            with transaction(services().sessions) as session:
                return work(session)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


@api.get("/bundle")
def bundle() -> Response:
    """What a scanner needs to decide offline; ETag / If-None-Match gives 304."""
    device_id = _device_id()
    svc = services()
    with transaction(svc.sessions, read_only=True) as session:
        _origin, community_id = _origin_and_community(session, device_id)
        body, etag = build_bundle(session, community_id, now=_now())
    response = Response(status=304) if request.if_none_match.contains(etag) else jsonify(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response
