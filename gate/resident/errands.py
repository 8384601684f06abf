"""The resident's errands on the phone pass page: ``/p/<token>/errands``.

GET answers the household's latest errands as JSON (``resident-errands.js`` refreshes the
page's list with it: the page itself is cached for a day). POST asks for one (only while
the household is in home quarantine); ``/p/<token>/errands/<id>/cancel`` withdraws one still
waiting. The link's secret token in the path is the credential, as for the rest of the page;
the two POSTs carry the browser session's CSRF token as every form does. The cached page's
token may belong to a session the phone has since dropped, so the JSON answer hands a fresh
one and the script sends that (``X-CSRFToken`` and the form field).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from gate.errands.labels import KIND_LABELS, STATUS_LABELS, error_text
from gate.errands.models import Errand, ErrandKind
from gate.errands.operations import ErrandError, cancel_errand, create_errand
from gate.errands.queries import errands_of_household, household_code
from gate.errands.status import RESIDENT
from gate.issuing.models import IssuedPass
from gate.issuing.resident_links import find_linked_pass
from gate.services import now
from gate.web.auth import wants_json
from gate.web.unit_of_work import db_session, writes

from .views import resident


def _linked(token: str) -> IssuedPass:
    record = find_linked_pass(db_session(), token)
    if record is None:
        abort(404)
    return record


def errand_section(record: IssuedPass, at: datetime, timezone: str) -> dict[str, Any]:
    """What the pass page's errand section needs (``errand_*`` template variables)."""
    found = errands_of_household(db_session(), record.household_id, now=at)
    return {
        "errand_may_ask": found.may_ask,
        "errand_items": [_item(errand, timezone) for errand in found.errands],
        "errand_kinds": [(kind.value, _(KIND_LABELS[kind.value])) for kind in ErrandKind],
    }


def _item(errand: Errand, timezone: str) -> dict[str, Any]:
    zone = ZoneInfo(timezone)

    def local(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(zone).strftime("%m-%d %H:%M")

    return {
        "id": errand.id,
        "kind": errand.kind.value,
        "kind_label": _(KIND_LABELS[errand.kind.value]),
        "status": errand.status.value,
        "status_label": _(STATUS_LABELS[errand.status.value]),
        "text": errand.text,
        "items": [line for line in errand.items.splitlines() if line],
        "asked": local(errand.created_at),
        "delivered": local(errand.delivered_at),
        "note": errand.delivery_note or "",
        "may_cancel": errand.status.value == "new",
    }


def _timezone(record: IssuedPass) -> str:
    from gate.services import services

    return services().contexts.get(db_session(), record.community_id).timezone


@resident.get("/p/<token>/errands")
def errands(token: str) -> Response:
    """The household's errands and whether it may ask for one (JSON, never cached)."""
    record = _linked(token)
    section = errand_section(record, now(), _timezone(record))
    return jsonify(
        {
            "may_ask": section["errand_may_ask"],
            "errands": section["errand_items"],
            "csrf_token": generate_csrf(),
        }
    )


def _answer(token: str, message: str, *, status: int, ok: bool) -> Any:
    if wants_json():
        body = {"ok": ok, "message": message}
        if not ok:
            body["error"] = {"message": message}
        return jsonify(body), status
    if ok:
        return redirect(url_for("resident.page", token=token) + "#errands", code=303)
    html = render_template(
        "resident/errand_refused.html", message=message, back=url_for("resident.page", token=token)
    )
    return Response(html, status=status, mimetype="text/html")


@resident.post("/p/<token>/errands")
@writes
def ask_errand(token: str) -> Any:
    """Ask for an errand from the phone (the household must be in home quarantine)."""
    record = _linked(token)
    session = db_session()
    try:
        create_errand(
            session,
            community_id=record.community_id,
            household_code=household_code(session, record.household_id),
            kind=request.form.get("kind", ""),
            text=request.form.get("text", ""),
            items=request.form.get("items", ""),
            by=RESIDENT,
            now=now(),
        )
    except ErrandError as exc:
        return _answer(token, error_text(exc, _), status=409, ok=False)
    return _answer(token, _("Your request was sent to the community."), status=201, ok=True)


@resident.post("/p/<token>/errands/<int:errand_id>/cancel")
@writes
def withdraw_errand(token: str, errand_id: int) -> Any:
    """Withdraw one of the household's errands while it is still waiting."""
    record = _linked(token)
    try:
        cancel_errand(
            db_session(),
            community_id=record.community_id,
            errand_id=errand_id,
            reason=_("Withdrawn by the household"),
            by=RESIDENT,
            now=now(),
            household_id=record.household_id,
        )
    except ErrandError as exc:
        return _answer(token, error_text(exc, _), status=409, ok=False)
    return _answer(token, _("Your request was withdrawn."), status=200, ok=True)
