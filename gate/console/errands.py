"""``/errands``: quarantine errands (代购代办). The office's list with filters (grid,
assignee, status, date), the request and assignment forms, squads, the Excel export; and
``/errands/mine``, a volunteer's own errands with big buttons (接单, 已送达) for a phone.
The rules (who may do what, which moves) are :mod:`gate.errands.operations`'."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gate.accounts.models import Role
from gate.errands.export import errands_workbook, record_export
from gate.errands.labels import KIND_LABELS, SOURCE_LABELS, STATUS_LABELS, error_text
from gate.errands.models import ErrandKind, ErrandStatus
from gate.errands.operations import (
    ErrandError,
    accept_errand,
    assign_errand,
    cancel_errand,
    create_errand,
    create_squad,
    deliver_errand,
    set_squad_members,
)
from gate.errands.queries import ErrandFilter, grids, list_errands, my_errands, runners, squads
from gate.errands.status import Doer
from gate.web.auth import current_account, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes

from . import console
from .common import actor, attachment, community, now

LIST_ROLES = (Role.OFFICE, Role.SUPERVISOR, Role.AUDITOR)
CREATE_ROLES = (Role.OFFICE, Role.SUPERVISOR)
MANAGE_ROLES = (Role.OFFICE,)
RUNNER_ROLES = (Role.VOLUNTEER, Role.SUPERVISOR, Role.OFFICE)
"""The office may open the runner's buttons too: it marks delivered on a volunteer's behalf."""


def _doer() -> Doer:
    account = current_account()
    assert account is not None  # require_role ran first
    return Doer(account.username, role=account.role, user_id=account.id)


def _filter() -> ErrandFilter:
    args = request.args
    assignee = args.get("assignee", "")
    status = args.get("status", "")
    day = None
    try:
        day = date.fromisoformat(args["date"]) if args.get("date") else None
    except ValueError:
        flash(_("The date is not a date: use YYYY-MM-DD."), "error")
    return ErrandFilter(
        grid_id=_int(args.get("grid")),
        user_id=_int(assignee[2:]) if assignee.startswith("u:") else None,
        squad_id=_int(assignee[2:]) if assignee.startswith("s:") else None,
        status=ErrandStatus(status) if status in {s.value for s in ErrandStatus} else None,
        day=day,
        household_code=(args.get("household") or "").strip() or None,
    )


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": {code: _(msgid) for code, msgid in KIND_LABELS.items()},
        "status_labels": {code: _(msgid) for code, msgid in STATUS_LABELS.items()},
        "source_labels": {code: _(msgid) for code, msgid in SOURCE_LABELS.items()},
        "kinds": [kind.value for kind in ErrandKind],
        "statuses": [status.value for status in ErrandStatus],
    }


def _list_page(*, status: int = 200, form: dict[str, str] | None = None) -> Any:
    session, community_id = db_session(), current_community_id()
    where = _filter()
    rows = list_errands(session, community_id, where, timezone=community(session).timezone)
    html = render_template(
        "console/errands.html",
        rows=rows,
        where=where,
        args=request.args,
        grids=grids(session, community_id),
        runners=runners(session, community_id),
        squads=squads(session, community_id),
        form=form or {},
        here=request.full_path.rstrip("?"),
        **_labels(),
    )
    return html, status


def _back(default: str) -> str:
    """The page to return to: the form's ``next`` if it is one of these pages."""
    target = request.form.get("next", "")
    return target if target.startswith("/errands") and "//" not in target else default


def _refused(exc: ErrandError) -> None:
    flash(error_text(exc, _), "error")


def _error_page() -> Any:
    """A refused accept or deliver: the page it came from again, 409 (nothing written)."""
    if request.form.get("next", "").startswith("/errands/mine"):
        return _mine_page(status=409)
    return _list_page(status=409)


@console.get("/errands", endpoint="errands")
@require_role(*LIST_ROLES)
def errands_page() -> Any:
    """The community's errands, filtered; the forms to ask for one and to form a squad."""
    return _list_page()


@console.post("/errands", endpoint="errand_create")
@require_role(*CREATE_ROLES)
@writes
def errand_create() -> Any:
    """Ask for an errand for a quarantined household (assigned at once if chosen)."""
    form = request.form
    assignee = form.get("assignee", "")
    try:
        errand = create_errand(
            db_session(),
            community_id=current_community_id(),
            household_code=form.get("household", ""),
            kind=form.get("kind", ""),
            text=form.get("text", ""),
            items=form.get("items", ""),
            assignee=assignee[2:] if assignee.startswith("u:") else None,
            squad=assignee[2:] if assignee.startswith("s:") else None,
            by=_doer(),
            now=now(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _list_page(status=409, form=dict(form))
    flash(_("Errand %(errand)d requested.", errand=errand.id), "success")
    return redirect(url_for("console.errands"))


@console.post("/errands/<int:errand_id>/assign", endpoint="errand_assign")
@require_role(*MANAGE_ROLES)
@writes
def errand_assign(errand_id: int) -> Any:
    """Assign (or reassign) an open errand to a volunteer or a squad."""
    assignee = request.form.get("assignee", "")
    try:
        assign_errand(
            db_session(),
            community_id=current_community_id(),
            errand_id=errand_id,
            assignee=assignee[2:] if assignee.startswith("u:") else None,
            squad=assignee[2:] if assignee.startswith("s:") else None,
            by=_doer(),
            now=now(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _list_page(status=409)
    flash(_("Errand %(errand)d assigned.", errand=errand_id), "success")
    return redirect(_back(url_for("console.errands")))


@console.post("/errands/<int:errand_id>/cancel", endpoint="errand_cancel")
@require_role(*MANAGE_ROLES)
@writes
def errand_cancel(errand_id: int) -> Any:
    """Cancel an open errand, with a reason."""
    try:
        cancel_errand(
            db_session(),
            community_id=current_community_id(),
            errand_id=errand_id,
            reason=request.form.get("reason", ""),
            by=_doer(),
            now=now(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _list_page(status=409)
    flash(_("Errand %(errand)d cancelled.", errand=errand_id), "success")
    return redirect(_back(url_for("console.errands")))


@console.post("/errands/squads", endpoint="errand_squad_create")
@require_role(*MANAGE_ROLES)
@writes
def errand_squad_create() -> Any:
    """Form a squad (代购小分队, 党员先锋队) of volunteer accounts."""
    try:
        squad = create_squad(
            db_session(),
            community_id=current_community_id(),
            name=request.form.get("name", ""),
            members=request.form.getlist("members"),
            actor=actor(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _list_page(status=409)
    flash(_("Squad %(squad)s formed.", squad=squad.name), "success")
    return redirect(url_for("console.errands") + "#squads")


@console.post("/errands/squads/members", endpoint="errand_squad_members")
@require_role(*MANAGE_ROLES)
@writes
def errand_squad_members() -> Any:
    """Change who is in a squad (the ticked accounts)."""
    try:
        squad = set_squad_members(
            db_session(),
            community_id=current_community_id(),
            name=request.form.get("name", ""),
            members=request.form.getlist("members"),
            actor=actor(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _list_page(status=409)
    flash(_("Members of %(squad)s changed.", squad=squad.name), "success")
    return redirect(url_for("console.errands") + "#squads")


@console.get("/errands/export.xlsx", endpoint="errands_export")
@require_role(*LIST_ROLES)
@writes(get=True)
def errands_export() -> Response:
    """The filtered list as an Excel workbook (audited)."""
    session, community_id = db_session(), current_community_id()
    timezone = community(session).timezone
    rows = list_errands(session, community_id, _filter(), timezone=timezone, limit=None)
    data = errands_workbook(rows, timezone=timezone, translate=_)
    record_export(session, community_id=community_id, rows=len(rows), actor=actor())
    name = f"代购代办-{now().date().isoformat()}.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment(name)},
    )


def _mine_page(*, status: int = 200) -> Any:
    account = current_account()
    assert account is not None
    session = db_session()
    since = now() - timedelta(hours=24)
    rows = my_errands(session, current_community_id(), account.id, since=since)
    html = render_template("console/errands_mine.html", rows=rows, **_labels())
    return html, status


@console.get("/errands/mine", endpoint="my_errands")
@require_role(Role.VOLUNTEER, Role.SUPERVISOR)
def my_errands_page() -> Any:
    """A volunteer's errands: open ones first, the longest wait at the top; big buttons."""
    return _mine_page()


@console.post("/errands/<int:errand_id>/accept", endpoint="errand_accept")
@require_role(*RUNNER_ROLES)
@writes
def errand_accept(errand_id: int) -> Any:
    """The volunteer takes the errand (接单)."""
    try:
        accept_errand(
            db_session(),
            community_id=current_community_id(),
            errand_id=errand_id,
            by=_doer(),
            now=now(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _error_page()
    flash(_("Errand %(errand)d accepted: it is yours now.", errand=errand_id), "success")
    return redirect(_back(url_for("console.my_errands")))


@console.post("/errands/<int:errand_id>/deliver", endpoint="errand_deliver")
@require_role(*RUNNER_ROLES)
@writes
def errand_deliver(errand_id: int) -> Any:
    """Mark the errand delivered now, with an optional note (送达)."""
    try:
        deliver_errand(
            db_session(),
            community_id=current_community_id(),
            errand_id=errand_id,
            note=request.form.get("note", ""),
            by=_doer(),
            now=now(),
        )
    except ErrandError as exc:
        _refused(exc)
        return _error_page()
    flash(_("Errand %(errand)d delivered. Thank you!", errand=errand_id), "success")
    return redirect(_back(url_for("console.my_errands")))
