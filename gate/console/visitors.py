"""``/visitors``: visitor passes (访客通行证) and the walk-ins registered at the gates (无证人员).

Issue a pass (kind, name, phone, plate, host, purpose, window, single use), show it (a
printable page with its QR), download its QR to send, revoke it; below, the last week's
walk-ins. Phones are masked everywhere. The work and its audit events are
:mod:`gate.visitors`'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from gate.community.models import Community
from gate.crossings.queries import local_day_bounds
from gate.households.fields import mask_name, mask_phone
from gate.visitors.fields import MAX_PURPOSE, VisitorError
from gate.visitors.issuing import (
    VisitorRequest,
    issue_visitor_pass,
    revoke_visitor_pass,
    short_id,
    shown_visitor_pass,
    visitor_pass_of,
    visitor_pass_text,
    visitor_passes,
)
from gate.visitors.queries import outsider_counts, pass_state, walk_in_rows
from gate.web.auth import OFFICE_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes
from gate.web.validators import DataRequired, Length, NumberRange, Optional
from passes import render_png

from . import console
from .common import actor, attachment, community, not_found, now, zone
from .forms import RevokeForm

KIND_CHOICES = (
    ("visitor", _l("Visitor")),
    ("delivery", _l("Delivery / courier")),
    ("medical", _l("Medical")),
    ("official", _l("Official")),
    ("other", _l("Other")),
)


class VisitorPassForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Pre-approve one visitor."""

    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(key, label) for key, label in KIND_CHOICES],
        default="visitor",
    )
    name = StringField(_l("Visitor's name"), validators=[DataRequired(), Length(max=64)])
    phone = StringField(_l("Phone (shown masked)"), validators=[Optional(), Length(max=20)])
    plate = StringField(_l("Plate"), validators=[Optional(), Length(max=16)])
    host = StringField(
        _l("Visiting (household or person)"), validators=[Optional(), Length(max=64)]
    )
    purpose = StringField(_l("Purpose"), validators=[DataRequired(), Length(max=MAX_PURPOSE)])
    start = DateTimeLocalField(_l("Valid from"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    hours = IntegerField(
        _l("Valid for (hours)"), default=8, validators=[DataRequired(), NumberRange(1, 31 * 24)]
    )
    single_use = BooleanField(_l("Single use (void after the first entry)"), default=True)


def _labels() -> dict[str, Any]:
    kinds = {key: str(label) for key, label in KIND_CHOICES}
    states = {
        "pending": _("Not yet valid"),
        "active": _("Active"),
        "used": _("Used"),
        "expired": _("Expired"),
        "revoked": _("Revoked"),
    }
    outcomes = {"turned_back": _("Turned back"), "handed_over": _("Handed over at the gate")}
    return {"kinds": kinds, "states": states, "outcomes": outcomes}


def _page(form: VisitorPassForm, *, status: int = 200, issued: str | None = None) -> Any:
    session = db_session()
    community_id = current_community_id()
    at = now()
    html = render_template(
        "console/visitors.html",
        rows=visitor_passes(session, community_id),
        walk_ins=walk_in_rows(session, community_id, since=at - timedelta(days=7)),
        form=form,
        revoke_form=RevokeForm(),
        short_id=short_id,
        state_of=lambda record: pass_state(record, at),
        mask_name=mask_name,
        mask_phone=mask_phone,
        issued=issued,
        **_labels(),
    )
    return html, status


@console.get("/visitors", endpoint="visitors")
@require_role(*OFFICE_ROLES)
def visitors_page() -> Any:
    """Every visitor pass, the form to issue one, and the week's walk-ins."""
    return _page(VisitorPassForm(), issued=request.args.get("issued"))


@console.post("/visitors", endpoint="visitor_issue")
@require_role(*OFFICE_ROLES)
@writes
def visitor_issue() -> Any:
    """Issue a visitor pass; its page then shows the QR to print or send."""
    form = VisitorPassForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    at = now()
    start = at
    if form.start.data is not None:
        start = form.start.data.replace(tzinfo=zone(community())).astimezone(UTC)
    request_ = VisitorRequest(
        kind=form.kind.data,
        name=form.name.data,
        purpose=form.purpose.data,
        valid_from=start,
        valid_until=start + timedelta(hours=int(form.hours.data or 8)),
        single_use=bool(form.single_use.data),
        phone=form.phone.data,
        plate=form.plate.data,
        host=form.host.data,
    )
    try:
        issued = issue_visitor_pass(
            db_session(),
            community_id=current_community_id(),
            request=request_,
            actor=actor(),
            now=at,
        )
    except VisitorError as exc:
        form.name.errors = [_(exc.message_id, **exc.params)]
        return _page(form, status=422)
    number = short_id(issued.record.pass_id)
    flash(_("Visitor pass %(number)s issued: print or send it.", number=number), "success")
    return redirect(url_for("console.visitor_pass", row_id=issued.record.id))


@console.get("/visitors/<int:row_id>", endpoint="visitor_pass")
@require_role(*OFFICE_ROLES)
def visitor_pass_page(row_id: int) -> Any:
    """One visitor pass as a printable page: its QR, kind, masked name and phone, window."""
    record = visitor_pass_of(db_session(), current_community_id(), row_id)
    if record is None:
        not_found()
    return render_template(
        "console/visitor_pass.html",
        record=record,
        number=short_id(record.pass_id),
        state=pass_state(record, now()),
        mask_name=mask_name,
        mask_phone=mask_phone,
        community_name=community().name,
        **_labels(),
    )


@console.get("/visitors/<int:row_id>/qr.png", endpoint="visitor_pass_qr")
@require_role(*OFFICE_ROLES)
def visitor_pass_qr(row_id: int) -> Any:
    """The pass's QR image for its page (the download to send is the audited POST)."""
    record = visitor_pass_of(db_session(), current_community_id(), row_id)
    if record is None:
        not_found()
    try:
        text = visitor_pass_text(db_session(), record)
    except VisitorError:
        not_found()
    return Response(render_png(text, module_px=8), mimetype="image/png")


@console.post("/visitors/<int:row_id>/send", endpoint="visitor_pass_send")
@require_role(*OFFICE_ROLES)
@writes
def visitor_pass_send(row_id: int) -> Any:
    """The pass's QR as a PNG download, to send to the visitor (audited)."""
    record = visitor_pass_of(db_session(), current_community_id(), row_id)
    if record is None:
        not_found()
    try:
        text = shown_visitor_pass(db_session(), record, actor=actor(), medium="png")
    except VisitorError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.visitors"))
    name = f"访客通行证-{short_id(record.pass_id)}.png"
    return Response(
        render_png(text), mimetype="image/png", headers={"Content-Disposition": attachment(name)}
    )


@console.post("/visitors/<int:row_id>/revoke", endpoint="visitor_pass_revoke")
@require_role(*OFFICE_ROLES)
@writes
def visitor_pass_revoke(row_id: int) -> Any:
    """Revoke a visitor pass: refused at the gate from now on."""
    record = visitor_pass_of(db_session(), current_community_id(), row_id)
    if record is None:
        not_found()
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("A revocation needs a reason."), "error")
        return redirect(url_for("console.visitors"))
    try:
        revoke_visitor_pass(
            db_session(),
            community_id=current_community_id(),
            number=record.pass_id.hex(),
            reason=form.reason.data or "",
            actor=actor(),
            now=now(),
        )
    except VisitorError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.visitors"))
    flash(_("Visitor pass %(number)s revoked.", number=short_id(record.pass_id)), "success")
    return redirect(url_for("console.visitors"))


def outsiders_today(row: Community, moment: datetime) -> dict[str, Any]:
    """The dashboard's outsiders today (visitors let in, walk-ins turned back, deliveries
    handed over), for its template."""
    tz = row.timezone
    start, end = local_day_bounds(moment.astimezone(ZoneInfo(tz)).date(), tz)
    return {"outsiders": outsider_counts(db_session(), row.id, start, end)}
