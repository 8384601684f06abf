"""The scanner API (v1): translate HTTP to operations and back. No business rules here.

Every route but enrolment needs ``Authorization: Bearer <device token>``. Errors are
``{"error": {"code", "message"}}`` with a 4xx status; bad input is never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from gate.api.schemas import (
    ApiError,
    batch_items,
    batch_response,
    item_id,
    parse_batch_item,
    parse_online_scan,
    scan_response,
)
from gate.community.context import CommunityContext
from gate.crossings.operations import (
    CrossingError,
    Origin,
    ScanRequest,
    ScanResult,
    record_scan,
)
from gate.crossings.supervisors import Supervisor, check_supervisor
from gate.crossings.uploads import (
    UnreadableUpload,
    Upload,
    UploadedScan,
    Uploader,
    outsiders_of,
    store_batch,
)
from gate.devices.operations import DeviceError, check_in, enroll
from gate.services import now, services
from gate.unit_of_work import DbSession
from gate.vehicles.at_gate import VehicleReport, record_vehicle_crossing, record_vehicle_upload
from gate.visitors.scans import record_visitor_scan, record_visitor_upload
from gate.web.bundles import bundle_response, gate_bundle
from gate.web.json_body import BadJsonBody, json_body
from gate.web.unit_of_work import db_session, request_unit, writes
from passes import Code, is_visitor_pass
from passes.vehicle_pass import is_vehicle_pass

api = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BACKLOG = 2**31 - 1


@api.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.to_json()), error.status


@api.errorhandler(BadJsonBody)
def _bad_json(error: BadJsonBody) -> tuple[Response, int]:
    return jsonify({"error": {"code": error.code, "message": str(error)}}), error.status


@api.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    code = (error.name or "error").lower().replace(" ", "_")
    status = error.code or 400
    return jsonify({"error": {"code": code, "message": error.description}}), status


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
    enrolled_at: datetime | None = None
    latest_scanned_at: datetime | None = None


def _caller(at: datetime, session: DbSession | None = None) -> Caller:
    """The calling device, authenticated (see ``check_in``) in the request's unit of work,
    or in ``session``."""
    return check_in_caller(
        session or db_session(),
        at,
        authorization=request.headers.get("Authorization", ""),
        backlog=request.headers.get("X-Checkpoint-Backlog", ""),
    )


def check_in_caller(
    session: DbSession, at: datetime, *, authorization: str, backlog: str
) -> Caller:
    """The device of a call's ``Authorization`` and ``X-Checkpoint-Backlog`` headers ("" when
    absent), checked in (``check_in``); raises :class:`ApiError` 401."""
    bearer = authorization.startswith("Bearer ")
    token = authorization.removeprefix("Bearer ").strip() if bearer else ""
    try:
        device = check_in(session, token, now=at, backlog=_backlog(backlog))
    except DeviceError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    origin = Origin(gate_id=device.gate_id, device_id=device.device_id)
    return Caller(origin, device.community_id, device.created_at, device.latest_scanned_at)


@api.post("/devices/enroll")
@writes
def enroll_device() -> tuple[Response, int]:
    """Trade a one-time enrolment code for a device token."""
    body = json_body()
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise ApiError(422, "invalid_field", "code: the one-time enrolment code is required")
    try:
        device, token = enroll(db_session(), code=code, now=now())
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
@writes(retry=True)
def scan() -> Response:
    """Decide and record one crossing online; replays return the stored verdict.

    Device check, decision and record on one connection with one commit; run once more
    when the first run lost the race for its client id or its connection. An override
    counts only with a valid ``supervisor_card`` (checked at the server's time with the
    crossing) or ``supervisor_credential`` (the device's check-in is then committed first and
    the password is checked with no transaction open); a refused one is answered with the
    refusal's reason and logged (``crossing.override_refused``). A client id
    already used for another request (or by another device) is refused 409 ``id_reuse``;
    the office's audit event of it is committed all the same."""
    at = now()
    caller = _caller(at)
    scan_request, credential = parse_online_scan(json_body(), now=at)
    supervisor, refusal = None, None
    if credential is not None:
        supervisor = _supervisor(credential.username, credential.password)
        refusal = None if supervisor is not None else Code.SUPERVISOR_LOGIN_INVALID
    session = db_session()
    context = services().contexts.get(session, caller.community_id)
    try:
        recorded = record_online(
            session,
            context=context,
            origin=caller.origin,
            scan_request=scan_request,
            at=at,
            supervisor=supervisor,
            refusal=refusal,
        )
    except CrossingError as exc:
        request_unit().commit()  # the office's crossing.id_reuse event
        raise ApiError(409, exc.code, exc.message) from None
    return jsonify(scan_answer(recorded, context.timezone))


def record_online(
    session: DbSession,
    *,
    context: CommunityContext,
    origin: Origin,
    scan_request: ScanRequest,
    at: datetime,
    supervisor: Supervisor | None = None,
    refusal: Code | None = None,
) -> ScanResult:
    """Decide and record one online scan by the kind of its pass (a household's, a
    visitor's, a car's); raises :class:`CrossingError` (``id_reuse``). Shared by
    :func:`scan` and its fast path (:mod:`gate.api.fast_scan`)."""
    if is_visitor_pass(scan_request.pass_text):  # an outsider's pass: gate.visitors decides
        return record_visitor_scan(
            session, context=context, origin=origin, request=scan_request, now=at
        )
    if is_vehicle_pass(scan_request.pass_text):  # a car's pass: gate.vehicles decides
        return record_vehicle_crossing(
            session,
            context=context,
            origin=origin,
            report=VehicleReport(
                client_id=scan_request.client_id,
                pass_text=scan_request.pass_text,
                plate=None,
                direction=scan_request.direction,
                scanned_at=scan_request.scanned_at,
                operator=scan_request.operator,
            ),
            now=at,
        ).crossing
    return record_scan(
        session,
        context=context,
        origin=origin,
        request=scan_request,
        now=at,
        supervisor=supervisor,
        override_refusal=refusal,
    )


def scan_answer(recorded: ScanResult, timezone: str) -> dict[str, Any]:
    """The JSON answer to a recorded online scan (a replay's too)."""
    return scan_response(
        recorded,
        replay=recorded.replay,
        household_label=recorded.household_label,
        timezone=timezone,
    )


@api.post("/crossings/batch")
@writes
def upload_batch() -> Response:
    """Store crossings decided offline (see :mod:`gate.crossings.uploads`); report per item.

    The device's check-in is committed first; the items are then stored and committed a
    chunk at a time."""
    at = now()
    caller = _caller(at)
    unit = request_unit()
    unit.commit()
    items = [_upload(item, at) for item in batch_items(json_body())]
    uploader = Uploader(
        caller.origin,
        caller.community_id,
        services().contexts,
        enrolled_at=caller.enrolled_at,
        latest_scanned_at=caller.latest_scanned_at,
        outsiders=outsiders_of(record_visitor_upload, record_vehicle_upload),
    )
    results = store_batch(unit, uploader, items, now=at)
    return jsonify(batch_response(results))


@api.get("/bundle")
def bundle() -> Response:
    """What a scanner needs to decide offline (with the household codes, the active passes
    and the supervisor cards); ETag / If-None-Match gives 304."""
    at = now()
    # The request is read-only, but the device's check-in (last seen, reported backlog) is
    # a write: a short transaction of its own, committed before the bundle is read.
    caller = request_unit().write_first(lambda session: _caller(at, session))
    body, etag = gate_bundle(db_session(), caller.community_id, caller.origin.gate_id, at)
    return bundle_response(body, etag)


def _supervisor(username: str, password: str) -> Supervisor | None:
    """The verified supervisor account of an override's credential (None: not valid). The
    request's write transaction (the device's check-in) is committed first: argon2 never
    runs while it holds SQLite's write lock."""
    request_unit().commit()
    return check_supervisor(services().sessions, username, password)


def _upload(item: object, at: datetime) -> Upload:
    """An uploaded item read: a crossing, or why it cannot be read."""
    client_id = item_id(item)
    if client_id is None:
        return UnreadableUpload(None, item, "invalid_field", "id: must be a UUID string")
    try:
        scan_request, claim = parse_batch_item(item, now=at)
    except ApiError as exc:
        return UnreadableUpload(client_id, item, exc.code, exc.message)
    return UploadedScan(scan_request, claim, item)
