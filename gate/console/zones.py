"""``/zones``: lockdown zones (封控区/管控区/防范区): the community's locks, a form to put a level
over a building, compound or grid for a period, lifting a lock and moving its end. The work
and its audit events are :mod:`gate.zones.operations`'."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField

from gate.web.auth import OFFICE_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes
from gate.web.validators import DataRequired, Length, Optional
from gate.zones.labels import last_day
from gate.zones.operations import ZoneError, lift_zone, lock_zone, set_zone_end
from gate.zones.queries import list_locks, place_names
from passes import ZoneLevel, ZoneScope

from . import console
from .common import actor, community, now, zone

LEVEL_LABELS = {
    ZoneLevel.SEALED: _l("Sealed (no exits)"),
    ZoneLevel.CONTROLLED: _l("Controlled (exits by the rules)"),
    ZoneLevel.PRECAUTION: _l("Precaution (normal)"),
}
SCOPE_LABELS = {
    ZoneScope.BUILDING: _l("Building"),
    ZoneScope.COMPOUND: _l("Compound"),
    ZoneScope.GRID: _l("Grid"),
}
STATE_LABELS = {
    "upcoming": _l("Not started"),
    "in_force": _l("In force"),
    "ended": _l("Ended"),
    "cancelled": _l("Cancelled"),
}
_SCOPE_ORDER = (ZoneScope.GRID, ZoneScope.COMPOUND, ZoneScope.BUILDING)


class ZoneLockForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """A level over one place, from a day (today: from now) through a last day (or lifted)."""

    level = SelectField(_l("Level"), choices=[], validators=[DataRequired()])
    place = SelectField(_l("Place"), choices=[], validators=[DataRequired()])
    starts = DateField(_l("From"), validators=[DataRequired()])
    until = DateField(_l("Last day (inclusive; empty: until lifted)"), validators=[Optional()])
    reason = TextAreaField(_l("Reason (seen only by the office)"), validators=[Length(max=500)])


class ZoneEndForm(FlaskForm):  # type: ignore[misc]
    """A new last day for a lock (empty: until lifted)."""

    until = DateField(_l("New last day"), validators=[Optional()])


def _form() -> ZoneLockForm:
    form = ZoneLockForm()
    form.level.choices = [(level.value, str(label)) for level, label in LEVEL_LABELS.items()]
    names = place_names(db_session(), current_community_id())
    form.place.choices = [
        (f"{scope.value}:{place_id}", f"{SCOPE_LABELS[scope]} · {name}")
        for scope in _SCOPE_ORDER
        for (kind, place_id), name in sorted(names.items(), key=lambda item: item[1])
        if kind is scope
    ]
    if request.method == "GET":
        form.starts.data = now().astimezone(zone(community())).date()
    return form


def _page(form: ZoneLockForm, *, status: int = 200) -> Any:
    moment = now()
    show_all = request.args.get("all") == "1"
    rows = list_locks(db_session(), current_community_id(), now=moment, current_only=not show_all)
    html = render_template(
        "console/zones.html",
        rows=rows,
        form=form,
        end_form=ZoneEndForm(),
        now=moment,
        show_all=show_all,
        level_labels=LEVEL_LABELS,
        scope_labels=SCOPE_LABELS,
        state_labels=STATE_LABELS,
        last_day=lambda ends_at: last_day(ends_at, zone(community())),
    )
    return html, status


def _midnight(day: date, local: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=local).astimezone(UTC)


@console.get("/zones", endpoint="zones")
@require_role(*OFFICE_ROLES)
def zones_page() -> Any:
    """The community's locks (current ones; ``?all=1``: every one) and the form to add one."""
    return _page(_form())


@console.post("/zones", endpoint="zone_lock")
@require_role(*OFFICE_ROLES)
@writes
def zone_lock() -> Any:
    """Put a level over a place."""
    form = _form()
    if not form.validate_on_submit():
        return _page(form, status=400)
    local = zone(community())
    moment = now()
    starts_day: date = form.starts.data
    # Today means from now: a lock set at noon does not reach back to this morning's exits.
    starts_at = (
        moment if starts_day <= moment.astimezone(local).date() else _midnight(starts_day, local)
    )
    until_day: date | None = form.until.data
    scope_text, _sep, place_text = (form.place.data or "").partition(":")
    try:
        record = lock_zone(
            db_session(),
            community_id=current_community_id(),
            level=ZoneLevel(form.level.data),
            scope=ZoneScope(scope_text),
            place_id=int(place_text),
            starts_at=starts_at,
            ends_at=None if until_day is None else _midnight(until_day + timedelta(days=1), local),
            reason=form.reason.data,
            actor=actor(),
        )
    except ZoneError as exc:
        form.until.errors = [_(exc.message_id, **exc.params)]
        return _page(form, status=409)
    flash(_("Zone lock %(lock)d set.", lock=record.id), "success")
    return redirect(url_for("console.zones"))


@console.post("/zones/<int:lock_id>/lift", endpoint="zone_lift")
@require_role(*OFFICE_ROLES)
@writes
def zone_lift(lock_id: int) -> Any:
    """End a lock now (cancel it when it has not started)."""
    try:
        lift_zone(
            db_session(),
            community_id=current_community_id(),
            lock_id=lock_id,
            at=now(),
            actor=actor(),
        )
    except ZoneError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.zones"))
    flash(_("Zone lock %(lock)d lifted.", lock=lock_id), "success")
    return redirect(url_for("console.zones"))


@console.post("/zones/<int:lock_id>/end", endpoint="zone_end")
@require_role(*OFFICE_ROLES)
@writes
def zone_end(lock_id: int) -> Any:
    """Move a lock's last day (empty: until lifted)."""
    form = ZoneEndForm()
    if not form.validate_on_submit():
        flash(
            _(
                "A date is written like 2026-12-07 (got %(text)s).",
                text=request.form.get("until", ""),
            ),
            "error",
        )
        return redirect(url_for("console.zones"))
    until_day: date | None = form.until.data
    local = zone(community())
    try:
        set_zone_end(
            db_session(),
            community_id=current_community_id(),
            lock_id=lock_id,
            ends_at=None if until_day is None else _midnight(until_day + timedelta(days=1), local),
            now=now(),
            actor=actor(),
        )
    except ZoneError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.zones"))
    flash(
        _(
            "Zone lock %(lock)d now lasts until %(until)s.",
            lock=lock_id,
            until=str(until_day or _("lifted")),
        ),
        "success",
    )
    return redirect(url_for("console.zones"))
