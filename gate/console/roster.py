"""``/roster``: the duty roster (值守排班) of a week, Monday to Sunday, by day and gate: plan
shifts from time slots, copy last week, put people on a shift or take them off, remove a shift
that has not begun, export the week to Excel. The work and its audit events are
:mod:`gate.roster.operations`'; every form posts and comes back to the week it was sent from."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gate.community.models import Community
from gate.devices.queries import gates_of
from gate.errors import N_
from gate.roster.export import export_roster
from gate.roster.models import Duty
from gate.roster.operations import (
    MAX_DAYS,
    RosterError,
    assign,
    copy_week,
    find_roster_gate,
    parse_slots,
    plan_shifts,
    remove_shift,
    unassign,
)
from gate.roster.queries import (
    ShiftView,
    day_span,
    duty_accounts,
    shifts_between,
    uncovered_today,
    week_of,
)
from gate.web.auth import OFFICE_ROLES, READ_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes

from . import console
from .common import actor, attachment, community, now, zone

DEFAULT_SLOTS = "06:00-14:00,14:00-22:00"
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
GAP_LABELS = {"nobody": N_("Nobody on duty"), "no_supervisor": N_("No supervisor")}


def roster_gaps(row: Community, moment: datetime) -> dict[str, Any]:
    """What the overview shows of the roster: today's shifts not yet over that lack people,
    the week to link to, and the gap labels."""
    today = moment.astimezone(zone(row)).date()
    return {
        "roster_gaps": uncovered_today(db_session(), row.id, moment),
        "roster_week": week_of(today).isoformat(),
        "roster_gap_labels": {code: _(label) for code, label in GAP_LABELS.items()},
    }


def _monday(text: str | None) -> date:
    """The Monday of the week asked for (``week=YYYY-MM-DD``, any day), else this week."""
    today = now().astimezone(zone(community())).date()
    try:
        return week_of(date.fromisoformat(text)) if text else week_of(today)
    except ValueError:
        return week_of(today)


def _back(monday: date) -> Any:
    return redirect(url_for("console.roster", week=monday.isoformat()))


def _refused(exc: RosterError) -> None:
    flash(_(exc.message_id, **exc.params), "error")


@console.get("/roster", endpoint="roster")
@require_role(*READ_ROLES)
def roster_page() -> str:
    """A week of shifts by day, with who is on each and which are not covered."""
    monday = _monday(request.args.get("week"))
    row = community()
    local = zone(row)
    start, end = day_span(monday, local, days=7)
    views = shifts_between(db_session(), row.id, start, end)
    days: list[tuple[date, list[ShiftView]]] = [(monday + timedelta(days=n), []) for n in range(7)]
    for view in views:
        offset = (view.starts_at.astimezone(local).date() - monday).days
        if 0 <= offset < 7:
            days[offset][1].append(view)
    today = now().astimezone(local).date()
    return render_template(
        "console/roster.html",
        monday=monday,
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
        days=days,
        today=today,
        now=now(),
        gaps=sum(1 for view in views if view.gap is not None and view.ends_at > now()),
        gates=[gate for gate in gates_of(db_session(), row.id) if gate.closed_at is None],
        accounts=duty_accounts(db_session(), row.id),
        weekday_names=[_(name) for name in WEEKDAYS],
        gap_labels={code: _(label) for code, label in GAP_LABELS.items()},
        default_slots=DEFAULT_SLOTS,
        max_days=MAX_DAYS,
        plan_from=max(monday, today).isoformat(),
    )


@console.post("/roster/plan", endpoint="roster_plan")
@require_role(*OFFICE_ROLES)
@writes
def roster_plan() -> Any:
    """Plan shifts from the form's gate, first day, days and time slots."""
    monday = _monday(request.form.get("week"))
    session = db_session()
    try:
        first = date.fromisoformat(request.form.get("first_day", ""))
        days = int(request.form.get("days", "7"))
    except ValueError:
        flash(_("A date is written like 2026-12-07 and the days as a number."), "error")
        return _back(monday)
    try:
        gate = find_roster_gate(session, current_community_id(), request.form.get("gate", ""))
        added = plan_shifts(
            session,
            community_id=current_community_id(),
            gate=gate,
            first_day=first,
            days=days,
            slots=parse_slots(request.form.get("slots", "")),
            needs_supervisor=request.form.get("needs_supervisor") == "y",
            actor=actor(),
        )
    except RosterError as exc:
        _refused(exc)
        return _back(monday)
    flash(_("%(count)d shifts added at %(gate)s.", count=len(added), gate=gate.name), "success")
    return _back(week_of(first))


@console.post("/roster/copy", endpoint="roster_copy")
@require_role(*OFFICE_ROLES)
@writes
def roster_copy() -> Any:
    """Copy the previous week (shifts and people) into the week shown."""
    monday = _monday(request.form.get("week"))
    try:
        added = copy_week(
            db_session(),
            community_id=current_community_id(),
            source_monday=monday - timedelta(days=7),
            target_monday=monday,
            actor=actor(),
        )
    except RosterError as exc:
        _refused(exc)
        return _back(monday)
    flash(_("%(count)d shifts copied.", count=len(added)), "success")
    return _back(monday)


@console.post("/roster/shifts/<int:shift_id>/assign", endpoint="roster_assign")
@require_role(*OFFICE_ROLES)
@writes
def roster_assign(shift_id: int) -> Any:
    """Put an account (``username``, with ``duty``) or a free-text ``name`` on a shift."""
    monday = _monday(request.form.get("week"))
    duty = Duty.SUPERVISOR if request.form.get("duty") == "supervisor" else Duty.VOLUNTEER
    try:
        assign(
            db_session(),
            community_id=current_community_id(),
            shift_id=shift_id,
            duty=duty,
            username=request.form.get("username"),
            name=request.form.get("name"),
            actor=actor(),
        )
    except RosterError as exc:
        _refused(exc)
    return _back(monday)


@console.post("/roster/assignments/<int:assignment_id>/remove", endpoint="roster_unassign")
@require_role(*OFFICE_ROLES)
@writes
def roster_unassign(assignment_id: int) -> Any:
    """Take a person off a shift."""
    monday = _monday(request.form.get("week"))
    try:
        unassign(
            db_session(),
            community_id=current_community_id(),
            assignment_id=assignment_id,
            actor=actor(),
        )
    except RosterError as exc:
        _refused(exc)
    return _back(monday)


@console.post("/roster/shifts/<int:shift_id>/remove", endpoint="roster_remove")
@require_role(*OFFICE_ROLES)
@writes
def roster_remove(shift_id: int) -> Any:
    """Remove a shift that has not begun."""
    monday = _monday(request.form.get("week"))
    try:
        remove_shift(
            db_session(),
            community_id=current_community_id(),
            shift_id=shift_id,
            actor=actor(),
            now=now(),
        )
    except RosterError as exc:
        _refused(exc)
    return _back(monday)


@console.post("/roster/export", endpoint="roster_export")
@require_role(*READ_ROLES)
@writes
def roster_export() -> Any:
    """The week as an Excel workbook (audited)."""
    monday = _monday(request.form.get("week"))
    data = export_roster(
        db_session(),
        community_id=current_community_id(),
        first_day=monday,
        days=7,
        actor=actor(),
        now=now(),
    )
    name = f"排班表-{monday.isoformat()}.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment(name)},
    )
