"""What the phone gate needs to work offline: the app's service worker and manifest, the
community's bundle, and the upload of the crossings it decided offline.

- ``GET /gate/sw.js`` and ``GET /gate/manifest.webmanifest``: public static code and
  metadata (the service worker's scope is ``/gate``, so it is served from there).
- ``GET /gate/bundle``: the scanner API's offline bundle (:func:`gate.devices.bundle.
  build_bundle`) for the logged-in user's community, with its ETag (304 when unchanged).
- ``POST /gate/crossings/batch?gate=<id>``: the scanner API's batch upload
  (:func:`gate.crossings.uploads.store_batch`: per-item results, idempotent by client id,
  each household's crossings judged in time order), the crossings reported by the
  logged-in user at that gate of their community (the session's gate when ``gate`` is
  absent).

All but the first two need a gate role; the upload needs the CSRF header as every POST.

The bundle fetch and the upload note the phone's contact (``X-Checkpoint-Phone``,
``X-Checkpoint-Backlog``: :mod:`gate.devices.phones`) after their own work, when a write is
due: the bundle in a short transaction of its own, the upload in the request's.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Response, current_app, jsonify, request, send_from_directory, session
from flask_babel import gettext as _
from flask_login import current_user

from gate.api.schemas import (
    ApiError,
    batch_items,
    batch_response,
    item_id,
    parse_batch_item,
)
from gate.crossings.operations import Origin
from gate.crossings.uploads import (
    UnreadableUpload,
    Upload,
    UploadedScan,
    Uploader,
    outsiders_of,
    store_batch,
)
from gate.devices.phones import (
    BACKLOG_HEADER,
    PHONE_HEADER,
    backlog_of,
    pending_contact,
    phone_id_of,
    record_contact,
)
from gate.devices.queries import gate_of
from gate.gateview.blueprint import GATE_SESSION_KEY, GateError, gateview
from gate.services import now, services
from gate.vehicles.at_gate import record_vehicle_upload
from gate.visitors.scans import record_visitor_upload
from gate.web.auth import GATE_ROLES, current_community_id, require_role
from gate.web.bundles import bundle_response, gate_bundle
from gate.web.json_body import json_body
from gate.web.security import CONTENT_SECURITY_POLICY
from gate.web.unit_of_work import db_session, request_unit, writes
from passes import REMEASURE_CODES, Code, reason

GATE_PAGE_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"
)
"""The app's policy, and WebAssembly compiled from the app's own files (the QR decoder)."""
SERVICE_WORKER = "js/gate-sw.js"
"""The service worker's file under ``static/``; served as ``/gate/sw.js``."""
SCOPE = "/gate"


@gateview.get("/sw.js")
def service_worker() -> Response:
    """The gate app's service worker, allowed to control ``/gate`` (not only ``/gate/``)."""
    static = Path(current_app.static_folder or "")
    response = send_from_directory(static, SERVICE_WORKER, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = SCOPE
    response.headers["Cache-Control"] = "no-cache"  # a new version is found at once
    return response


@gateview.get("/manifest.webmanifest")
def manifest() -> Response:
    """The installable app's manifest: full screen, portrait, opens at ``/gate``."""
    answer = jsonify(
        {
            "name": _("Checkpoint gate"),
            "short_name": _("Gate"),
            "start_url": SCOPE,
            "scope": SCOPE,
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#1e2a32",
            "theme_color": "#1e2a32",
            "lang": "zh-CN",
            "icons": [
                {
                    "src": "/static/img/gate-icon.svg",
                    "sizes": "any",
                    "type": "image/svg+xml",
                    "purpose": "any",
                }
            ],
        }
    )
    answer.mimetype = "application/manifest+json"
    answer.headers["Cache-Control"] = "no-cache"
    return answer


@gateview.get("/bundle")
@require_role(*GATE_ROLES)
def bundle() -> Response:
    """What the page needs to decide offline; ETag / If-None-Match gives 304. Reads only."""
    at, community_id = now(), current_community_id()
    # The scanner's bundle for the gate this page is at (the same content hash).
    gate_id = session.get(GATE_SESSION_KEY)
    response = bundle_response(*gate_bundle(db_session(), community_id, gate_id, at))
    _note_phone(community_id, gate_id if isinstance(gate_id, int) else None, at)
    return response


@gateview.post("/crossings/batch")
@writes
@require_role(*GATE_ROLES)
def upload_batch() -> tuple[Response, int] | Response:
    """Store the crossings this page decided offline; one result per item, in order.

    The items are committed a chunk at a time (see :func:`store_batch`)."""
    at = now()
    community_id = current_community_id()
    gate_id = _int(request.args.get("gate")) or session.get(GATE_SESSION_KEY)
    gate = gate_of(db_session(), gate_id, community_id)
    if gate is None:
        raise GateError(409, "no_gate", _("Choose the gate first: reload the page."))
    try:
        items = [_upload(item, at) for item in batch_items(json_body())]
    except ApiError as exc:
        return jsonify(exc.to_json()), exc.status
    uploader = Uploader(
        Origin(gate_id=gate.id, user_id=int(current_user.id)),
        community_id,
        services().contexts,
        outsiders=outsiders_of(record_visitor_upload, record_vehicle_upload),
    )
    results = store_batch(request_unit(), uploader, items, now=at)
    response = jsonify(batch_response(results))
    _note_phone(community_id, gate.id, at)
    return response


def _note_phone(community_id: int, gate_id: int | None, at: datetime) -> None:
    """Remember this phone's call (its id and unsent count), when a write is due. In a
    read-only request (the bundle) the write is a short transaction of its own."""
    contact = pending_contact(
        db_session(),
        community_id=community_id,
        phone_id=phone_id_of(request.headers.get(PHONE_HEADER)),
        gate_id=gate_id,
        user_id=int(current_user.id),
        backlog=backlog_of(request.headers.get(BACKLOG_HEADER)),
        now=at,
    )
    if contact is not None:
        request_unit().write_first(lambda session: record_contact(session, contact))


def offline_reasons(lang: str) -> dict[str, object]:
    """What the page shows for a verdict it decided offline, in ``lang``: the reason of each
    code (``{when}`` where the next outing's local time goes), the word for an allowed
    crossing, and the codes that ask to measure again (as :func:`passes.wire.display_of`)."""
    timed = {Code.QUOTA, Code.OUTSIDE_HOURS}
    return {
        "allowed": "准予通行" if lang == "zh" else "Allowed",
        "codes": {
            code.value: reason(code, lang, next_exit="{when}" if code in timed else None)
            for code in Code
        },
        "remeasure": sorted(code.value for code in REMEASURE_CODES),
    }


def _upload(item: object, at: datetime) -> Upload:
    """An uploaded item read: a crossing, or why it cannot be read (kept all the same)."""
    client_id = item_id(item)
    if client_id is None:
        return UnreadableUpload(None, item, "invalid_field", "id: must be a UUID string")
    try:
        scan_request, claim = parse_batch_item(item, now=at)
    except ApiError as exc:
        return UnreadableUpload(client_id, item, exc.code, exc.message)
    return UploadedScan(scan_request, claim, item)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None
