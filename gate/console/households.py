"""Households: browse by area/grid/building, search, detail with status and pass actions,
create/edit through the import's own validation, and the spreadsheet import with preview."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from gate.app import services
from gate.community.models import Area, Building, Compound, Grid
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.importing import ImportResult, apply_import, plan_import
from gate.households.models import Household, Member
from gate.households.operations import (
    HouseholdError,
    address_key,
    households_by_code,
    normalise_household_code,
    set_exempt,
    set_normal,
    set_quarantine,
)
from gate.households.spreadsheet import COLUMNS, SheetError, read_rows
from gate.households.validation import ImportPlan, RowError, mask_name, mask_phone, validate_rows
from gate.issuing.cards import CardBuilder
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import IssuingError, issue_pass, revoke_pass
from gate.issuing.printing import render_card_png
from gate.web.auth import OFFICE_ROLES, require_role

from . import console
from .common import (
    actor,
    attachment,
    community,
    household_or_404,
    not_found,
    now,
    owned_or_404,
    pick,
    zone,
)
from .forms import (
    HouseholdForm,
    ImportConfirmForm,
    ImportUploadForm,
    IssueForm,
    RevokeForm,
    StatusForm,
)

LIST_LIMIT = 500
DETAIL_CROSSINGS = 50
IMPORT_DIR = "imports"
IMPORT_MAX_AGE_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_SHEET_HEADERS = {column.key: column.header_zh for column in COLUMNS}
"""A bad row's column as the sheet's Chinese header names it (English pages show the key)."""


# --- browse and search ----------------------------------------------------------------------------


@console.get("/households", endpoint="households")
@require_role(*OFFICE_ROLES)
def households() -> str:
    """Households filtered by area, grid or building, or found by code, room, name or phone."""
    area_id = request.args.get("area", type=int)
    grid_id = request.args.get("grid", type=int)
    building_id = request.args.get("building", type=int)
    q = (request.args.get("q") or "").strip()
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        areas = session.scalars(
            select(Area).where(Area.community_id == row.id).order_by(Area.code)
        ).all()
        grids = (
            session.scalars(
                select(Grid)
                .join(Grid.area)
                .where(Grid.area_id == area_id, Area.community_id == row.id)
                .order_by(Grid.code)
            ).all()
            if area_id
            else []
        )
        buildings = (
            session.scalars(
                select(Building)
                .join(Building.compound)
                .join(Compound.grid)
                .join(Grid.area)
                .where(Compound.grid_id == grid_id, Area.community_id == row.id)
                .order_by(Building.code)
            ).all()
            if grid_id
            else []
        )
        query = _household_query(row.id, area_id, grid_id, building_id, q)
        found = list(session.scalars(query.limit(LIST_LIMIT + 1)).unique())
        truncated = len(found) > LIST_LIMIT
        found = sorted(found[:LIST_LIMIT], key=address_key)
        items = [_list_item(h) for h in found]
    return render_template(
        "console/households.html",
        items=items,
        truncated=truncated,
        limit=LIST_LIMIT,
        areas=areas,
        grids=grids,
        buildings=buildings,
        area_id=area_id,
        grid_id=grid_id,
        building_id=building_id,
        q=q,
    )


def _household_query(
    community_id: int,
    area_id: int | None,
    grid_id: int | None,
    building_id: int | None,
    q: str,
) -> Select[Any]:
    query = (
        select(Household)
        .join(Household.building)
        .join(Building.compound)
        .join(Compound.grid)
        .where(Household.community_id == community_id)
        .options(selectinload(Household.members), selectinload(Household.building))
    )
    if building_id:
        query = query.where(Household.building_id == building_id)
    elif grid_id:
        query = query.where(Compound.grid_id == grid_id)
    elif area_id:
        query = query.where(Grid.area_id == area_id)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        code_pattern = "%" + normalise_household_code(q).replace("\\", "\\\\") + "%"
        members = select(Member.household_id).where(
            or_(
                Member.name.like(pattern, escape="\\"),
                Member.phone.like(pattern, escape="\\"),
            )
        )
        query = query.where(
            or_(
                Household.code.like(code_pattern, escape="\\"),
                Household.room.like(pattern, escape="\\"),
                Household.contact_phone.like(pattern, escape="\\"),
                Household.id.in_(members),
            )
        )
    return query


def _head(household: Household) -> Member | None:
    return next((m for m in household.members if m.is_head), None) or next(
        iter(household.members), None
    )


def _list_item(household: Household) -> dict[str, Any]:
    head = _head(household)
    return {
        "code": household.code,
        "building": household.building.name,
        "unit": household.unit or "",
        "room": household.room or "",
        "head": mask_name(head.name if head else None),
        "phone": mask_phone(household.contact_phone or (head.phone if head else None)),
        "status": household.status.value,
        "quarantine_until": household.quarantine_until,
        "out_count": household.out_count,
    }


# --- detail and actions ---------------------------------------------------------------------------


@console.get("/households/<code>", endpoint="household")
@require_role(*OFFICE_ROLES)
def household(code: str) -> Any:
    """One household: masked members, status, passes, recent crossings, and the forms."""
    return _render_detail(code)


def _render_detail(
    code: str,
    *,
    status_form: StatusForm | None = None,
    issue_form: IssueForm | None = None,
    revoke_form: RevokeForm | None = None,
    status_code: int = 200,
) -> Any:
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        found = household_or_404(session, code)
        members = [
            {
                "name": mask_name(m.name),
                "phone": mask_phone(m.phone),
                "is_head": m.is_head,
                "has_id": bool(m.id_number_hash or m.id_number),
            }
            for m in found.members
        ]
        passes = session.scalars(
            select(IssuedPass)
            .where(IssuedPass.household_id == found.id, IssuedPass.community_id == row.id)
            .order_by(IssuedPass.id.desc())
        ).all()
        crossings = session.scalars(
            select(Crossing)
            .where(Crossing.community_id == row.id, Crossing.household_id == found.id)
            .order_by(Crossing.scanned_at.desc(), Crossing.id.desc())
            .limit(DETAIL_CROSSINGS)
        ).all()
        building = found.building
        context = {
            "household": found,
            "place": _place(building),
            "members": members,
            "contact_phone": mask_phone(found.contact_phone),
            "passes": passes,
            "crossings": crossings,
            "today": now().astimezone(zone(row)).date(),
            "status_form": status_form or StatusForm(),
            "issue_form": issue_form or IssueForm(),
            "revoke_form": revoke_form or RevokeForm(),
            "PassStatus": PassStatus,
        }
        html = render_template("console/household.html", **context)
    return (html, status_code) if status_code != 200 else html


def _place(building: Building) -> dict[str, str]:
    grid = building.compound.grid
    return {
        "area": grid.area.name,
        "grid": grid.name,
        "compound": building.compound.name,
        "building": building.name,
    }


@console.post("/households/<code>/status", endpoint="household_status")
@require_role(*OFFICE_ROLES)
def household_status(code: str) -> Any:
    """Quarantine through a date, exempt, or back to normal; audited with the reason."""
    form = StatusForm()
    if not form.validate_on_submit():
        return _render_detail(code, status_form=form, status_code=400)
    try:
        with transaction(services().sessions) as session:
            found = household_or_404(session, code)
            if form.action.data == "quarantine":
                if form.until.data is None:
                    form.until.errors = [_("Choose the last day of the quarantine.")]
                    raise _FormProblem
                set_quarantine(
                    session,
                    found,
                    until=form.until.data,
                    actor=actor(),
                    reason=form.reason.data or "",
                    now=now(),
                )
            elif form.action.data == "exempt":
                set_exempt(session, found, actor=actor(), reason=form.reason.data or "")
            else:
                set_normal(session, found, actor=actor(), reason=form.reason.data or "")
            saved_code = found.code
    except _FormProblem:
        return _render_detail(code, status_form=form, status_code=400)
    except HouseholdError as exc:
        form.reason.errors = [str(exc)]
        return _render_detail(code, status_form=form, status_code=400)
    flash(_("Status saved."), "success")
    return redirect(url_for("console.household", code=saved_code))


class _FormProblem(Exception):
    """A form error found inside the transaction: roll back and show the form."""


@console.post("/households/<code>/passes", endpoint="household_issue")
@require_role(*OFFICE_ROLES)
def household_issue(code: str) -> Any:
    """Issue a pass, or re-issue (bumps the generation: every earlier card dies)."""
    form = IssueForm()
    if not form.validate_on_submit():
        return _render_detail(code, issue_form=form, status_code=400)
    try:
        with transaction(services().sessions) as session:
            found = household_or_404(session, code)
            issued = issue_pass(
                session,
                found,
                actor=actor(),
                now=now(),
                valid_days=form.valid_days.data or 1,
                reissue=bool(form.reissue.data),
            )
            saved_code, manual = found.code, issued.record.manual_code
    except IssuingError as exc:
        form.valid_days.errors = [str(exc)]
        return _render_detail(code, issue_form=form, status_code=409)
    flash(_("Pass issued: %(code)s", code=manual or ""), "success")
    return redirect(url_for("console.household", code=saved_code))


@console.post("/households/<code>/passes/<int:pass_id>/revoke", endpoint="household_revoke")
@require_role(*OFFICE_ROLES)
def household_revoke(code: str, pass_id: int) -> Any:
    """Revoke one card (lost, stolen); it is refused from now on."""
    form = RevokeForm()
    if not form.validate_on_submit():
        return _render_detail(code, revoke_form=form, status_code=400)
    with transaction(services().sessions) as session:
        found = household_or_404(session, code)
        record = _pass_of(session, found, pass_id)
        if record.status is not PassStatus.ACTIVE:
            flash(_("That pass is not active."), "error")
        else:
            revoke_pass(session, record, actor=actor(), reason=form.reason.data or "", now=now())
            flash(_("Pass revoked."), "success")
        saved_code = found.code
    return redirect(url_for("console.household", code=saved_code))


@console.get("/households/<code>/passes/<int:pass_id>/card.png", endpoint="household_card")
@require_role(*OFFICE_ROLES)
def household_card(code: str, pass_id: int) -> Any:
    """One active card as a PNG download (300 dpi)."""
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        found = household_or_404(session, code)
        record = _pass_of(session, found, pass_id)
        if record.status is not PassStatus.ACTIVE or record.generation != found.generation:
            not_found()
        try:
            card = CardBuilder(session, row).card(found, record)
        except IssuingError as exc:
            return Response(str(exc), status=409, mimetype="text/plain")
        filename = f"card-{found.code}.png"
    png = render_card_png(card)
    return Response(
        png,
        mimetype="image/png",
        headers={"Content-Disposition": attachment(filename)},
    )


def _pass_of(session: Session, found: Household, pass_id: int) -> IssuedPass:
    record: IssuedPass = owned_or_404(session, IssuedPass, pass_id)
    if record.household_id != found.id:
        not_found()
    return record


# --- create and edit (validated exactly like an import row) ---------------------------------------


@console.route("/households/new", methods=["GET", "POST"], endpoint="household_new")
@require_role(*OFFICE_ROLES)
def household_new() -> Any:
    """Register one household."""
    form = HouseholdForm()
    if form.validate_on_submit():
        saved = _save_household(form, existing_code=None)
        if saved is not None:
            flash(_("Household saved."), "success")
            return redirect(url_for("console.household", code=saved))
    status = 400 if form.is_submitted() else 200
    return render_template("console/household_form.html", form=form, existing=None), status


@console.route("/households/<code>/edit", methods=["GET", "POST"], endpoint="household_edit")
@require_role(*OFFICE_ROLES)
def household_edit(code: str) -> Any:
    """Edit a household's place, room, phone and head of household (status has its own form)."""
    with transaction(services().sessions, read_only=True) as session:
        found = household_or_404(session, code)
        existing = found.code
        prefill = _prefill(found)
    form = HouseholdForm(data=None if request.method == "POST" else prefill)
    if form.validate_on_submit():
        saved = _save_household(form, existing_code=existing)
        if saved is not None:
            flash(_("Household saved."), "success")
            return redirect(url_for("console.household", code=saved))
    status = 400 if form.is_submitted() else 200
    return render_template("console/household_form.html", form=form, existing=existing), status


def _prefill(found: Household) -> dict[str, str]:
    head = _head(found)
    grid = found.building.compound.grid
    return {
        "household_code": found.code,
        "area": grid.area.name,
        "grid": grid.name,
        "building": found.building.code,
        "unit": found.unit or "",
        "room": found.room or "",
        "head_name": head.name if head else "",
        "phone": found.contact_phone or (head.phone if head and head.phone else ""),
        "id_number": "",  # never echoed back; blank keeps the stored one
    }


_FORM_KEYS = ("area", "grid", "building", "unit", "room", "head_name", "phone", "id_number")


def _save_household(form: HouseholdForm, *, existing_code: str | None) -> str | None:
    """Validate the form as one import row and write it; errors land on the form fields."""
    raw = {key: (getattr(form, key).data or "") for key in _FORM_KEYS}
    raw["household_code"] = existing_code or (form.household_code.data or "")
    with transaction(services().sessions) as session:
        row = community(session)
        plan = validate_rows([(1, raw)], today=now().astimezone(zone(row)).date())
        if not plan.errors:
            code = plan.valid[0].household_code
            taken = households_by_code(session, row, [code])
            if existing_code is None and taken:
                form.household_code.errors = [_("A household with this code exists already.")]
                return None
        result = apply_import(
            session,
            row,
            plan,
            id_secret=services().settings.secret_key,
            actor=actor(),
            source=f"form:{raw['household_code']}"[:64],
        )
        if not result.written:
            _errors_to_form(form, result.errors)
            return None
        return plan.valid[0].household_code


def _errors_to_form(form: HouseholdForm, errors: list[RowError]) -> None:
    for error in errors:
        field = getattr(form, error.field, None)
        message = pick(error.message_zh, error.message_en)
        if field is None or not hasattr(field, "errors"):
            field = form.household_code
        field.errors = [*list(field.errors or []), message]


# --- spreadsheet import: upload -> preview -> confirm ---------------------------------------------


def _import_dir() -> Path:
    path = services().settings.instance_dir / IMPORT_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stored_upload(community_id: int, token: str) -> Path | None:
    if not _TOKEN.match(token):
        return None
    matches = sorted(_import_dir().glob(f"{community_id}-{token}.*"))
    return matches[0] if matches else None


def _drop_old_uploads() -> None:
    cutoff = time.time() - IMPORT_MAX_AGE_SECONDS
    for path in _import_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _check(path: Path, filename: str, today: Any) -> ImportPlan:
    with read_rows(path, filename) as rows:
        return validate_rows(rows, today=today)


@console.route("/households/import", methods=["GET", "POST"], endpoint="households_import")
@require_role(*OFFICE_ROLES)
def households_import() -> Any:
    """Upload a sheet; show what importing it would do and every bad row by number."""
    form = ImportUploadForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("console/import.html", form=form, preview=None), status
    upload = form.sheet.data
    filename = Path(upload.filename or "upload.xlsx").name
    suffix = Path(filename).suffix.lower()
    _drop_old_uploads()
    token = secrets.token_hex(16)
    with transaction(services().sessions) as session:
        row = community(session)
        stored = _import_dir() / f"{row.id}-{token}{suffix}"
        upload.save(stored)
        try:
            plan = _check(stored, filename, now().astimezone(zone(row)).date())
        except SheetError as exc:
            stored.unlink(missing_ok=True)
            form.sheet.errors = [pick(exc.message_zh, exc.message_en)]
            return render_template("console/import.html", form=form, preview=None), 400
        result = plan_import(session, row, plan, id_secret=services().settings.secret_key)
    if result.errors:
        stored.unlink(missing_ok=True)  # nothing to confirm: the office fixes the file first
    preview = _preview(plan, result, filename)
    confirm = ImportConfirmForm(token=token)
    return render_template(
        "console/import.html", form=form, preview=preview, confirm=confirm, filename=filename
    )


@console.post("/households/import/confirm", endpoint="households_import_confirm")
@require_role(*OFFICE_ROLES)
def households_import_confirm() -> Any:
    """Import the previewed file, all or nothing."""
    form = ImportConfirmForm()
    filename = Path(request.form.get("filename") or "upload").name[:100]
    if not form.validate_on_submit():
        not_found()
    with transaction(services().sessions) as session:
        row = community(session)
        stored = _stored_upload(row.id, form.token.data or "")
        if stored is None:
            flash(_("That upload has expired; upload the file again."), "error")
            return redirect(url_for("console.households_import"))
        try:
            plan = _check(stored, stored.name, now().astimezone(zone(row)).date())
        except SheetError as exc:
            stored.unlink(missing_ok=True)
            flash(pick(exc.message_zh, exc.message_en), "error")
            return redirect(url_for("console.households_import"))
        result = apply_import(
            session,
            row,
            plan,
            id_secret=services().settings.secret_key,
            actor=actor(),
            source=filename,
        )
    if not result.written:
        stored.unlink(missing_ok=True)
        upload_form = ImportUploadForm()
        return (
            render_template(
                "console/import.html",
                form=upload_form,
                preview=_preview(plan, result, filename),
                confirm=None,
                filename=filename,
            ),
            409,
        )
    stored.unlink(missing_ok=True)
    flash(
        _(
            "Imported: %(created)d new, %(updated)d updated, %(unchanged)d unchanged.",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for("console.households"))


def _preview(plan: ImportPlan, result: ImportResult, filename: str) -> dict[str, Any]:
    return {
        "filename": filename,
        "rows": plan.rows_seen,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "errors": [
            {
                "row": e.row,
                "field": e.field,
                "column": pick(_SHEET_HEADERS.get(e.field, e.field), e.field),
                "code": e.code,
                "message": pick(e.message_zh, e.message_en),
            }
            for e in result.errors
        ],
        "bad_rows": result.bad_rows,
        "warnings": [pick(w.message_zh, w.message_en) for w in plan.warnings],
        "new_places": result.new_places,
        "status_not_applied": result.status_not_applied,
    }
