"""``/vehicles``: residents' cars (车辆) and their vehicle passes: register a household's car
by its plate, issue or re-issue its pass, print the windscreen card (PDF or PNG), revoke the
pass, remove the car. The work and its audit events are :mod:`gate.vehicles`'."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField

from gate.vehicles.errors import PLATE_KIND_LABELS, VehicleError
from gate.vehicles.issuing import (
    DEFAULT_VALID_DAYS,
    issue_vehicle_pass,
    revoke_vehicle_pass,
    short_id,
    windscreen_file,
)
from gate.vehicles.registry import add_vehicle, remove_vehicle, vehicle_of, vehicle_rows
from gate.web.auth import OFFICE_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes
from gate.web.validators import DataRequired, Length, NumberRange
from passes.vehicle_pass import MAX_VEHICLE_VALIDITY

from . import console
from .common import actor, attachment, not_found, now
from .forms import RevokeForm


class VehicleForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Register a household's car (and issue its pass at once, by default)."""

    household = StringField(_l("Household code"), validators=[DataRequired(), Length(max=32)])
    plate = StringField(_l("Plate number"), validators=[DataRequired(), Length(max=32)])
    note = StringField(_l("Description of the car"), validators=[Length(max=64)])
    days = IntegerField(
        _l("Valid for (days)"),
        default=DEFAULT_VALID_DAYS,
        validators=[DataRequired(), NumberRange(1, MAX_VEHICLE_VALIDITY.days)],
    )
    issue = BooleanField(_l("Issue the vehicle pass now"), default=True)


def _page(form: VehicleForm, *, status: int = 200) -> Any:
    rows = vehicle_rows(db_session(), current_community_id())
    html = render_template(
        "console/vehicles.html",
        rows=rows,
        form=form,
        revoke_form=RevokeForm(),
        short_id=short_id,
        kind_labels=PLATE_KIND_LABELS,
        issued=request.args.get("issued"),
        now=now(),
    )
    return html, status


@console.get("/vehicles", endpoint="vehicles")
@require_role(*OFFICE_ROLES)
def vehicles_page() -> Any:
    """Every registered car, and the form to register one."""
    return _page(VehicleForm(formdata=None))


@console.post("/vehicles", endpoint="vehicle_add")
@require_role(*OFFICE_ROLES)
@writes
def vehicle_add() -> Any:
    """Register a car (and issue its pass when asked); the page then offers the card."""
    form = VehicleForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    session, community_id, at = db_session(), current_community_id(), now()
    try:
        vehicle = add_vehicle(
            session,
            community_id=community_id,
            household_code=form.household.data or "",
            plate=form.plate.data or "",
            note=form.note.data or "",
            actor=actor(),
            now=at,
        )
        if form.issue.data:
            issue_vehicle_pass(
                session,
                community_id=community_id,
                plate=vehicle.plate,
                valid_days=int(form.days.data or DEFAULT_VALID_DAYS),
                actor=actor(),
                now=at,
            )
    except VehicleError as exc:
        target = form.household if exc.code == "no_household" else form.plate
        target.errors = [_(exc.message_id, **exc.params)]
        return _page(form, status=409)
    flash(_("Vehicle %(plate)s registered.", plate=vehicle.plate), "success")
    return redirect(url_for("console.vehicles", issued=vehicle.plate))


@console.post("/vehicles/<int:vehicle_id>/issue", endpoint="vehicle_issue")
@require_role(*OFFICE_ROLES)
@writes
def vehicle_issue(vehicle_id: int) -> Any:
    """Issue (or re-issue: the earlier pass is revoked) the car's vehicle pass."""
    vehicle = vehicle_of(db_session(), current_community_id(), vehicle_id)
    if vehicle is None:
        not_found()
    try:
        issued = issue_vehicle_pass(
            db_session(),
            community_id=current_community_id(),
            plate=vehicle.plate,
            actor=actor(),
            now=now(),
        )
    except VehicleError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.vehicles"))
    number = short_id(issued.record.pass_id)
    flash(_("Vehicle pass %(number)s issued: print it below.", number=number), "success")
    return redirect(url_for("console.vehicles", issued=vehicle.plate))


@console.post("/vehicles/<int:vehicle_id>/print", endpoint="vehicle_print")
@require_role(*OFFICE_ROLES)
@writes
def vehicle_print(vehicle_id: int) -> Any:
    """The car's windscreen card: an A5 PDF (vector QR) or, with ``format=png``, a PNG."""
    session = db_session()
    rows = [
        row for row in vehicle_rows(session, current_community_id()) if row.vehicle.id == vehicle_id
    ]
    if not rows or rows[0].pass_in_force is None:
        not_found()
    record = rows[0].pass_in_force
    pdf = request.form.get("format", "pdf") != "png"
    try:
        data = windscreen_file(session, record, pdf=pdf, actor=actor())
    except VehicleError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.vehicles"))
    name = f"车辆通行证-{short_id(record.pass_id)}.{'pdf' if pdf else 'png'}"
    return Response(
        data,
        mimetype="application/pdf" if pdf else "image/png",
        headers={"Content-Disposition": attachment(name)},
    )


@console.post("/vehicles/<int:vehicle_id>/revoke", endpoint="vehicle_revoke")
@require_role(*OFFICE_ROLES)
@writes
def vehicle_revoke(vehicle_id: int) -> Any:
    """Revoke the car's pass in force (online at once, offline from each gate's next sync)."""
    return _with_reason(vehicle_id, remove=False)


@console.post("/vehicles/<int:vehicle_id>/remove", endpoint="vehicle_remove")
@require_role(*OFFICE_ROLES)
@writes
def vehicle_remove(vehicle_id: int) -> Any:
    """Remove the car from the register (its pass in force is revoked too)."""
    return _with_reason(vehicle_id, remove=True)


def _with_reason(vehicle_id: int, *, remove: bool) -> Any:
    vehicle = vehicle_of(db_session(), current_community_id(), vehicle_id)
    if vehicle is None:
        not_found()
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("console.vehicles"))
    operation = remove_vehicle if remove else revoke_vehicle_pass
    try:
        operation(
            db_session(),
            community_id=current_community_id(),
            plate=vehicle.plate,
            reason=form.reason.data or "",
            actor=actor(),
            now=now(),
        )
    except VehicleError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.vehicles"))
    if remove:
        flash(_("Vehicle %(plate)s removed.", plate=vehicle.plate), "success")
    else:
        flash(_("Vehicle pass of %(plate)s revoked.", plate=vehicle.plate), "success")
    return redirect(url_for("console.vehicles"))
