"""The resident's page: ``/p/<token>``, no login, for a phone at the gate.

The page carries the pass QR inline (a ``data:`` PNG) and is cacheable for a day, so it keeps
working when the phone loses signal at the gate. ``/status`` and ``/code`` are small JSON
endpoints that ``resident.js`` polls when online; they are never cached.
"""

from __future__ import annotations

import base64
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, jsonify, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from gate.app import services
from gate.db import transaction
from gate.issuing.models import IssuedPass
from gate.issuing.operations import IssuingError, pass_text
from gate.issuing.screen_codes import REFRESH_SECONDS, make_screen_code
from gate.resident.operations import ResidentPage, find_linked_pass, resident_page
from gate.signing.operations import SigningKeyUnavailable
from gate.web.auth import wants_json
from gate.web.security import cacheable
from passes import RuleSet, format_utc, last_day_covered, render_png

resident = Blueprint("resident", __name__)

PAGE_MAX_AGE = 86_400
"""How long a phone may show the page from its cache (the QR inside stays valid longer)."""
QR_MODULE_PX = 6
"""57 modules x 6 px = 342 px: fits a phone screen even before the stylesheet loads."""


def resident_link_url(token: str) -> str:
    """The absolute URL of a resident link (for the office's household page and printouts)."""
    return url_for("resident.page", token=token, _external=True)


def qr_data_uri(text: str) -> str:
    """A ``data:`` URI of ``text``'s QR as PNG (allowed by the CSP's ``img-src data:``)."""
    png = render_png(text, module_px=QR_MODULE_PX)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _linked(session: Session, token: str) -> IssuedPass:
    record = find_linked_pass(session, token)
    if record is None:
        abort(404)
    return record


def _page(session: Session, record: IssuedPass, now: datetime) -> ResidentPage:
    context = services().contexts.get(session, record.community_id)
    return resident_page(session, record, context=context, now=now)


@resident.get("/p/<token>")
@cacheable(PAGE_MAX_AGE)
def page(token: str) -> Response:
    """The resident's pass page (``Cache-Control: private``, a day: it must open offline)."""
    now = services().clock()
    with transaction(services().sessions, read_only=True) as session:
        record = find_linked_pass(session, token)
        if record is None:
            return _not_found()
        view = _page(session, record, now)
        qr = None
        if view.active:
            try:
                qr = qr_data_uri(pass_text(session, record))
            except IssuingError:
                qr = None  # the key file is missing on this server: say so, show the rest
    body = render_template(
        "resident/pass.html",
        page=view,
        lines=status_lines(view, now),
        qr=qr,
        token=token,
        refresh_seconds=REFRESH_SECONDS,
    )
    response = Response(body, mimetype="text/html")
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@resident.get("/p/<token>/status")
def status(token: str) -> Response:
    """The household's status now, as the page's text lines (JSON, never cached)."""
    now = services().clock()
    with transaction(services().sessions, read_only=True) as session:
        view = _page(session, _linked(session, token), now)
    return jsonify({**status_lines(view, now), "active": view.active})


@resident.get("/p/<token>/code")
def code(token: str) -> Response | tuple[Response, int]:
    """A fresh rotating screen code (only where the community turned them on; never cached)."""
    now = services().clock()
    with transaction(services().sessions, read_only=True) as session:
        record = _linked(session, token)
        view = _page(session, record, now)
        if not view.rotating_codes or not view.active:
            abort(404)
        try:
            fresh = make_screen_code(session, record, now=now)
        except SigningKeyUnavailable:
            return jsonify({"error": {"code": "no_signing_key", "message": "try later"}}), 503
    return jsonify(
        {
            "code": fresh.text,
            "valid_until": format_utc(fresh.valid_until),
            "server_time": format_utc(now),
            "image": qr_data_uri(fresh.text),
            "refresh_seconds": REFRESH_SECONDS,
        }
    )


def _not_found() -> Response:
    return Response(render_template("resident/not_found.html"), status=404, mimetype="text/html")


@resident.errorhandler(404)
def _resident_404(_error: Exception) -> Response | tuple[Response, int]:
    if wants_json():  # resident.js asking for /status or /code
        return jsonify({"error": {"code": "not_found", "message": "link not valid"}}), 404
    return _not_found()


def _local(moment: datetime, timezone: str, pattern: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime(pattern)


def status_lines(view: ResidentPage, now: datetime) -> dict[str, str]:
    """The page's status texts in the request's language (the JSON endpoint sends the same)."""
    state, tz = view.status, view.timezone
    if state.kind == "quarantined":
        headline = (
            _(
                "Home quarantine until %(date)s",
                date=last_day_covered(state.quarantine_until, RuleSet(timezone=tz)).strftime(
                    "%m-%d"
                ),
            )
            if state.quarantine_until
            else _("Home quarantine")
        )
    elif state.kind == "out" and state.out_since is not None:
        same_day = _local(state.out_since, tz, "%F") == _local(now, tz, "%F")
        pattern = "%H:%M" if same_day else "%m-%d %H:%M"
        headline = _("Out since %(time)s", time=_local(state.out_since, tz, pattern))
        if state.people_out > 1:
            headline += " · " + _("%(count)d people out", count=state.people_out)
    else:
        headline = _("At home")
    if state.kind == "quarantined" and state.next_exit_at is None:
        next_exit = _("when the quarantine is lifted")
    elif state.next_exit_at is None:
        next_exit = _("not foreseeable")
    elif state.next_exit_at <= now:
        next_exit = _("now")
    else:
        next_exit = _local(state.next_exit_at, tz, "%m-%d %H:%M")
    if state.waits_for_return:
        next_exit += " · " + _("after the member who is out comes home")
    return {
        "status": headline,
        "status_kind": state.kind,
        "next_exit": next_exit,
        "exempt": _("Not limited by the outing quota") if state.exempt else "",
        "as_of": _local(now, tz, "%m-%d %H:%M"),
        "valid": _(
            "Valid %(start)s to %(end)s",
            start=_local(view.issued_at, tz, "%Y-%m-%d"),
            end=_local(view.valid_until, tz, "%Y-%m-%d"),
        ),
    }
