"""``/passes/print``: A4 sheets of cut-out cards for a whole building or grid, as a PDF."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms.fields.choices import SelectChoice

from gate.app import services
from gate.audit.operations import record_event
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.db import transaction
from gate.households.models import Household
from gate.households.operations import address_key
from gate.issuing.cards import CardBuilder, usable_passes
from gate.issuing.operations import IssuingError
from gate.issuing.printing import render_card_sheets_pdf
from gate.web.auth import OFFICE_ROLES, require_role

from . import console
from .common import actor, attachment, community, now
from .forms import PrintForm


def _choices(session: Session, row: Community) -> tuple[list[Any], list[Any]]:
    buildings = session.scalars(
        select(Building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Area.community_id == row.id)
        .options(selectinload(Building.compound).selectinload(Compound.grid))
        .order_by(Building.code)
    ).all()
    grids = session.scalars(
        select(Grid).join(Grid.area).where(Area.community_id == row.id).order_by(Grid.code)
    ).all()
    return (
        [SelectChoice("", "—")]
        + [SelectChoice(str(b.id), f"{b.name} ({b.compound.grid.name})") for b in buildings],
        [SelectChoice("", "—")] + [SelectChoice(str(g.id), g.name) for g in grids],
    )


@console.route("/passes/print", methods=["GET", "POST"], endpoint="passes")
@require_role(*OFFICE_ROLES)
def passes_print() -> Any:
    """Choose a building or a grid; download its households' current cards as a PDF."""
    form = PrintForm()
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        form.building.choices, form.grid.choices = _choices(session, row)
        if not form.validate_on_submit():
            status = 400 if form.is_submitted() else 200
            return render_template("console/print.html", form=form), status
        if bool(form.building.data) == bool(form.grid.data):
            form.building.errors = [_("Choose a building or a grid (one of the two).")]
            return render_template("console/print.html", form=form), 400
        households, label = _households(session, row, form)
        passes = usable_passes(session, households, now())
        if not passes:
            form.building.errors = [_("No household there has a valid pass; issue passes first.")]
            return render_template("console/print.html", form=form), 409
        out = io.BytesIO()
        try:
            pages = render_card_sheets_pdf(CardBuilder(session, row).cards(households, passes), out)
        except IssuingError as exc:
            form.building.errors = [str(exc)]
            return render_template("console/print.html", form=form), 409
        community_id = row.id
    with transaction(services().sessions) as session:
        record_event(
            session,
            actor=actor(),
            action="pass.print",
            community_id=community_id,
            subject_type="print",
            subject_id=label,
            details={"cards": len(passes), "pages": pages},
        )
    return Response(
        out.getvalue(),
        mimetype="application/pdf",
        headers={"Content-Disposition": attachment(f"passes-{label}.pdf")},
    )


def _households(session: Session, row: Community, form: PrintForm) -> tuple[list[Household], str]:
    query = (
        select(Household)
        .join(Household.building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Household.community_id == row.id, Area.community_id == row.id)
        .options(selectinload(Household.building))
    )
    if form.building.data:
        building = session.get(Building, int(form.building.data))
        assert building is not None  # the choices hold only this community's buildings
        query = query.where(Household.building_id == building.id)
        label = building.name
    else:
        grid = session.get(Grid, int(form.grid.data or 0))
        assert grid is not None
        query = query.where(Compound.grid_id == grid.id)
        label = grid.name
    return sorted(session.scalars(query), key=address_key), label
