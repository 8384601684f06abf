"""``/passes/print``: issue or re-issue the passes of a building, a grid or every household
(``/passes/issue``), and download A4 sheets of cut-out cards of a building or grid as a PDF.

Buildings that read the same (two rows both shown as ``7号楼 (第7网格)``) are one entry of
the lists: choosing it takes the households of both.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from gate.households.operations import select_households
from gate.issuing.bulk import BulkResult, issue_all, plan_bulk_issue
from gate.issuing.operations import IssuingError
from gate.issuing.output import prepare_sheets, print_sheets
from gate.issuing.queries import (
    PlaceHouseholds,
    PrintPlaces,
    parse_place_value,
    place_households,
    print_places,
)
from gate.web.auth import OFFICE_ROLES, require_role
from gate.web.unit_of_work import db_session, request_unit, writes

from . import console
from .common import actor, attachment, community, not_found, now
from .forms import PrintForm
from .site_forms import BulkIssueForm

ISSUE_PREFIX = "issue"
"""The bulk issuing form's field names start ``issue-``: its building and grid lists share
the page with the print form's."""


def _choices(places: PrintPlaces) -> tuple[list[Any], list[Any]]:
    return (
        [SelectChoice("", "—")] + [SelectChoice(c.value, c.label) for c in places.buildings],
        [SelectChoice("", "—")] + [SelectChoice(c.value, c.label) for c in places.grids],
    )


def _forms(
    print_form: PrintForm | None = None, issue_form: BulkIssueForm | None = None
) -> tuple[PrintForm, BulkIssueForm]:
    print_form = print_form or PrintForm()
    issue_form = issue_form or BulkIssueForm(prefix=ISSUE_PREFIX)
    buildings, grids = _choices(print_places(db_session(), community().id))
    print_form.building.choices = issue_form.building.choices = buildings
    print_form.grid.choices = issue_form.grid.choices = grids
    return print_form, issue_form


def _form_page(
    status: int, print_form: PrintForm | None = None, issue_form: BulkIssueForm | None = None
) -> tuple[str, int]:
    print_form, issue_form = _forms(print_form, issue_form)
    html = render_template("console/print.html", form=print_form, issue_form=issue_form)
    return html, status


def _place(building: str | None, grid: str | None) -> PlaceHouseholds | None:
    """The households of the chosen building entry or grid entry (None: not the community's)."""
    building_ids = parse_place_value(building or "")
    grid_ids = parse_place_value(grid or "")
    if not building_ids and not grid_ids:
        return None
    return place_households(
        db_session(), community().id, building_ids=building_ids, grid_ids=grid_ids
    )


@console.route("/passes/print", methods=["GET", "POST"], endpoint="passes")
@require_role(*OFFICE_ROLES)
@writes
def passes_print() -> Any:
    """Choose a building or a grid; download its households' current cards as a PDF.

    The reads end before the PDF is drawn (no lock held while rendering); the print's audit
    event is then written in a short transaction of its own.
    """
    form, _issue = _forms()
    row = community()
    if not form.is_submitted():
        _preselect(form)
        return _form_page(200, print_form=form)
    if not form.validate_on_submit():
        return _form_page(400, print_form=form)
    if bool(form.building.data) == bool(form.grid.data):
        form.building.errors = [_("Choose a building or a grid (one of the two).")]
        return _form_page(400, print_form=form)
    place = _place(form.building.data, form.grid.data)
    if place is None:
        not_found()
    try:
        run = prepare_sheets(db_session(), row, place.households, now=now())
    except IssuingError as exc:
        form.building.errors = [_(exc.message_id, **exc.params)]
        return _form_page(409, print_form=form)
    request_unit().commit()
    out = io.BytesIO()
    print_sheets(
        db_session(),
        run,
        out,
        actor=actor(),
        subject=place.label,
        details={
            "building": place.label if form.building.data else None,
            "grid": place.label if form.grid.data else None,
        },
    )
    return Response(
        out.getvalue(),
        mimetype="application/pdf",
        headers={"Content-Disposition": attachment(f"出入证-{place.label}.pdf")},
    )


def _preselect(form: PrintForm) -> None:
    """After a bulk issue the print form shows the place just issued (``?building=`` or
    ``?grid=``, a value of its own lists)."""
    for field in (form.building, form.grid):
        wanted = request.args.get(field.name, "")
        if wanted and any(choice.value == wanted for choice in field.choices):
            field.data = wanted


@console.post("/passes/issue", endpoint="passes_issue")
@require_role(*OFFICE_ROLES)
@writes
def passes_issue() -> Any:
    """Issue (or re-issue) the passes of a building, a grid or every household.

    The households are done in batches, each committed on its own (a scan waits for at most
    one batch on SQLite); a failure stops the run, and what earlier batches issued stays
    issued (and is reported).
    """
    _print, form = _forms(issue_form=BulkIssueForm(prefix=ISSUE_PREFIX))
    if not form.validate_on_submit():
        return _form_page(400, issue_form=form)
    row = community()
    if form.scope.data == "all":
        households = select_households(db_session(), row)
        label = _("every household")
    else:
        chosen = form.building if form.scope.data == "building" else form.grid
        if not chosen.data:
            chosen.errors = [_("Choose the building or grid.")]
            return _form_page(400, issue_form=form)
        if form.scope.data == "building":
            place = _place(chosen.data, None)
        else:
            place = _place(None, chosen.data)
        if place is None:
            not_found()
        households, label = place.households, place.label
    reissue = form.mode.data == "reissue"
    moment = now()
    try:
        run = plan_bulk_issue(
            db_session(),
            row.id,
            households,
            now=moment,
            reissue=reissue,
            valid_days=form.valid_days.data,
        )
    except IssuingError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return _form_page(409, issue_form=form)
    unit = request_unit()
    try:
        result = issue_all(
            db_session(),
            run,
            actor=actor(),
            now=moment,
            reason=form.reason.data or None,
            after_batch=lambda _done: unit.commit(),
        )
    except IssuingError as exc:
        unit.rollback()
        flash(_(exc.message_id, **exc.params), "error")
        result = run.result
    flash(_summary(label, result, reissue=reissue), "success")
    out = sum(1 for row in households if row.out_count > 0) if reissue and result.reissued else 0
    if out:
        # Their old cards are dead while they are outside: the gate refuses them on return.
        flash(
            _(
                "%(count)d of these households are out now: their old cards will be refused"
                " when they come back, and a supervisor cannot let an old card through. Tell them"
                " before they return, and give them the new card.",
                count=out,
            ),
            "warning",
        )
    place_args = {}
    if form.scope.data in ("building", "grid"):
        place_args[form.scope.data] = getattr(form, form.scope.data).data
    return redirect(url_for("console.passes", **place_args) + "#print")


def _summary(label: str, result: BulkResult, *, reissue: bool) -> str:
    if reissue:
        return str(
            _(
                "%(place)s: %(count)d pass(es) re-issued; older cards no longer work.",
                place=label,
                count=result.reissued,
            )
        )
    return str(
        _(
            "%(place)s: %(issued)d pass(es) issued; %(kept)d household(s) already had a valid "
            "pass (not issued again); %(total)d household(s) in all.",
            place=label,
            issued=result.issued,
            kept=result.already_valid,
            total=result.total,
        )
    )
