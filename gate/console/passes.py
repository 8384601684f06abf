"""``/passes/print``: A4 sheets of cut-out cards for a whole building or grid, as a PDF."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, render_template
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from gate.issuing.operations import IssuingError
from gate.issuing.output import prepare_sheets, print_sheets
from gate.issuing.queries import PrintPlaces, place_households, print_places
from gate.web.auth import OFFICE_ROLES, require_role
from gate.web.unit_of_work import db_session, request_unit, writes

from . import console
from .common import actor, attachment, community, not_found, now
from .forms import PrintForm


def _choices(places: PrintPlaces) -> tuple[list[Any], list[Any]]:
    return (
        [SelectChoice("", "—")]
        + [SelectChoice(str(b.id), f"{b.name} ({b.compound.grid.name})") for b in places.buildings],
        [SelectChoice("", "—")] + [SelectChoice(str(g.id), g.name) for g in places.grids],
    )


def _form_page(form: PrintForm, status: int) -> tuple[str, int]:
    return render_template("console/print.html", form=form), status


@console.route("/passes/print", methods=["GET", "POST"], endpoint="passes")
@require_role(*OFFICE_ROLES)
@writes
def passes_print() -> Any:
    """Choose a building or a grid; download its households' current cards as a PDF.

    The reads end before the PDF is drawn (no lock held while rendering); the print's audit
    event is then written in a short transaction of its own.
    """
    form = PrintForm()
    row = community()
    form.building.choices, form.grid.choices = _choices(print_places(db_session(), row.id))
    if not form.validate_on_submit():
        return _form_page(form, 400 if form.is_submitted() else 200)
    if bool(form.building.data) == bool(form.grid.data):
        form.building.errors = [_("Choose a building or a grid (one of the two).")]
        return _form_page(form, 400)
    building_id = int(form.building.data) if form.building.data else None
    grid_id = int(form.grid.data) if form.grid.data else None
    place = place_households(db_session(), row.id, building_id=building_id, grid_id=grid_id)
    if place is None:
        not_found()
    try:
        run = prepare_sheets(db_session(), row, place.households, now=now())
    except IssuingError as exc:
        form.building.errors = [_(exc.message_id, **exc.params)]
        return _form_page(form, 409)
    request_unit().commit()
    out = io.BytesIO()
    print_sheets(
        db_session(),
        run,
        out,
        actor=actor(),
        subject=place.label,
        details={
            "building": place.label if building_id else None,
            "grid": place.label if grid_id else None,
        },
    )
    return Response(
        out.getvalue(),
        mimetype="application/pdf",
        headers={"Content-Disposition": attachment(f"passes-{place.label}.pdf")},
    )
