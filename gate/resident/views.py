"""The resident's page: ``/p/<token>``, no login, for a phone at the gate.

The page carries the pass QR inline (a ``data:`` PNG) and is cacheable for a day, so it keeps
working when the phone loses signal at the gate. Where the community uses rotating screen
codes the page never carries the static pass: it starts with a freshly signed screen code
(which a gate refuses as ``screen_code_stale`` once it is old), and ``resident.js`` shows the
batch of codes ``/code`` hands it (:mod:`gate.resident.codes`), one a minute, holding them
for a bounded time so that poor signal or none does not stop the page. ``/status`` and
``/code`` are small JSON endpoints that ``resident.js`` polls when online; they are never
cached. ``/p/sw.js`` is the service worker (scope ``/p/``) that keeps the page's shell for
offline use and drops it when the link answers 404.
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, url_for
from flask_babel import gettext as _

from gate.issuing.cards import validity_dates
from gate.issuing.models import IssuedPass
from gate.issuing.operations import IssuingError, pass_text
from gate.issuing.resident_links import ResidentPage, find_linked_pass, resident_page
from gate.issuing.screen_codes import REFRESH_SECONDS, make_screen_code
from gate.resident.codes import SHOW_SECONDS, held_codes
from gate.services import now, services
from gate.signing.operations import SigningKeyUnavailable
from gate.web.auth import wants_json
from gate.web.security import cacheable
from gate.web.unit_of_work import db_session
from passes import RuleSet, format_utc, last_day_covered, render_png

resident: Blueprint = Blueprint("resident", __name__)

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


def _linked(token: str) -> IssuedPass:
    record = find_linked_pass(db_session(), token)
    if record is None:
        abort(404)
    return record


def _page(record: IssuedPass, at: datetime) -> ResidentPage:
    session = db_session()
    context = services().contexts.get(session, record.community_id)
    return resident_page(session, record, context=context, now=at)


@resident.get("/p/<token>")
@cacheable(PAGE_MAX_AGE)
def page(token: str) -> Response:
    """The resident's pass page (``Cache-Control: private``, a day: it must open offline)."""
    at = now()
    record = find_linked_pass(db_session(), token)
    if record is None:
        return _not_found()
    view = _page(record, at)
    qr = None
    code_valid_until = None
    if view.active and view.rotating_codes:
        try:
            first = make_screen_code(db_session(), record, now=at)
            qr, code_valid_until = qr_data_uri(first.text), format_utc(first.valid_until)
        except SigningKeyUnavailable:
            qr = None  # no key can sign here: say so, show the rest (never the static pass)
    elif view.active:
        try:
            qr = qr_data_uri(pass_text(db_session(), record))
        except IssuingError:
            qr = None  # the key file is missing on this server: say so, show the rest
    body = render_template(
        "resident/pass.html",
        page=view,
        lines=status_lines(view, at),
        qr=qr,
        token=token,
        refresh_seconds=REFRESH_SECONDS,
        show_seconds=SHOW_SECONDS,
        server_time=format_utc(at),
        code_valid_until=code_valid_until,
        **errand_section(record, at, view.timezone),
    )
    response = Response(body, mimetype="text/html")
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@resident.get("/p/<token>/status")
def status(token: str) -> Response:
    """The household's status now, as the page's text lines (JSON, never cached)."""
    at = now()
    view = _page(_linked(token), at)
    return jsonify({**status_lines(view, at), "active": view.active})


@resident.get("/p/<token>/code")
def code(token: str) -> Response | tuple[Response, int]:
    """Fresh rotating screen codes (only where the community turned them on; never cached):
    ``code``/``image``/``valid_until`` the one to show now, ``held`` the next
    :data:`~gate.resident.codes.HELD_CODES` with when to show each."""
    at = now()
    record = _linked(token)
    view = _page(record, at)
    if not view.rotating_codes or not view.active:
        abort(404)
    try:
        batch = held_codes(db_session(), record, now=at)
    except SigningKeyUnavailable:
        message = _("The pass cannot be shown right now: try again later.")
        return jsonify({"error": {"code": "no_signing_key", "message": message}}), 503
    images = [qr_data_uri(held.text) for held in batch]
    return jsonify(
        {
            "code": batch[0].text,
            "valid_until": format_utc(batch[0].valid_until),
            "server_time": format_utc(at),
            "image": images[0],
            "refresh_seconds": REFRESH_SECONDS,
            "held": [
                {
                    "image": image,
                    "show_from": format_utc(held.show_from),
                    "show_until": format_utc(held.show_until),
                    "valid_until": format_utc(held.valid_until),
                }
                for held, image in zip(batch, images, strict=True)
            ],
        }
    )


@resident.get("/p/sw.js")
def service_worker() -> Response:
    """The page's service worker, served under ``/p/`` so that its scope is the pass pages."""
    static = current_app.static_folder
    assert static is not None  # the app always has its static folder
    response = current_app.response_class(
        (Path(static) / "js" / "resident-sw.js").read_bytes(), mimetype="text/javascript"
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/p/"
    return response


def _not_found() -> Response:
    return Response(render_template("resident/not_found.html"), status=404, mimetype="text/html")


@resident.errorhandler(404)
def _resident_404(_error: Exception) -> Response | tuple[Response, int]:
    if wants_json():  # resident.js asking for /status or /code
        message = _("This link is not valid (any more).")
        return jsonify({"error": {"code": "not_found", "message": message}}), 404
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
    first, last = validity_dates(view.issued_at, view.valid_until, tz)  # as the card prints
    return {
        "status": headline,
        "status_kind": state.kind,
        "next_exit": next_exit,
        "exempt": _("Not limited by the outing quota") if state.exempt else "",
        "as_of": _local(now, tz, "%m-%d %H:%M"),
        "valid": _("Valid %(start)s to %(end)s", start=first.isoformat(), end=last.isoformat()),
    }


# The errand routes register on this blueprint (and give the page its errand section).
from gate.resident.errands import errand_section  # noqa: E402
