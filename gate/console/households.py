"""Households: browse by area/grid/building, search, detail with status and pass actions,
create/edit through the import's own validation, and the spreadsheet import with preview.

The import preview is a read-only request: the sheet is parsed and checked against the
register without the write lock, so scans never wait for it. The confirmation writes (all
rows, or only the good ones); it releases the lock the login check took while it parses the
stored file again. The blank template and the bad rows (with a 错误原因 column) download
as .xlsx.
"""

from __future__ import annotations

import io
from datetime import date
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from gate.community.models import Building
from gate.crossings.queries import recent_household_crossings
from gate.households.bad_rows import bad_rows_workbook
from gate.households.id_numbers import id_hash_key
from gate.households.import_jobs import JobProgress, import_file_work, read_job, start_job
from gate.households.importing import (
    ImportResult,
    apply_import,
    plan_import,
    save_household,
)
from gate.households.listing import PAGE_SIZE, building_choices, household_page
from gate.households.models import Household
from gate.households.operations import HouseholdError, change_status, head_of
from gate.households.queries import HouseholdSearch, place_filters
from gate.households.relations import RELATION_MESSAGES
from gate.households.spreadsheet import (
    COLUMNS,
    SheetError,
    SheetWarning,
    check_sheet_name,
    read_rows,
)
from gate.households.template import write_template
from gate.households.uploads import UploadStore
from gate.households.validation import ImportPlan, RowError, mask_name, mask_phone, validate_rows
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import IssuingError, issue_pass, revoke_pass
from gate.issuing.output import card_png
from gate.issuing.queries import household_passes
from gate.issuing.resident_links import (
    ResidentLinkError,
    issue_household_links,
    live_link_household_ids,
    revoke_household_links,
)
from gate.services import services
from gate.vehicles.registry import plate_importer
from gate.web.auth import OFFICE_ROLES, current_account, current_community_id, require_role
from gate.web.i18n import is_chinese
from gate.web.unit_of_work import request_unit, writes

from . import console
from .common import (
    actor,
    attachment,
    community,
    db_session,
    household_or_404,
    not_found,
    now,
    owned_or_404,
)
from .forms import (
    HouseholdForm,
    ImportConfirmForm,
    ImportUploadForm,
    IssueForm,
    RevokeForm,
    StatusForm,
)

LIST_PAGE_SIZE = PAGE_SIZE
DETAIL_CROSSINGS = 50
_SHEET_HEADERS = {column.key: column.header_zh for column in COLUMNS}
"""A bad row's column as the sheet's Chinese header names it (English pages add the key)."""


def _id_key() -> bytes:
    return id_hash_key(services().settings.keys_dir)


def _uploads() -> UploadStore:
    return UploadStore(services().settings.instance_dir)


def _today() -> date:
    """Today in the compound's zone (from the login, without touching the database)."""
    account = current_account()
    zone = ZoneInfo(account.timezone if account is not None else services().settings.timezone)
    return now().astimezone(zone).date()


def _household_error(exc: HouseholdError) -> str:
    return str(_(exc.message_id, **exc.params))


def _issuing_error(exc: IssuingError) -> str:
    return str(_(exc.message_id, **exc.params))


def _import_message(problem: RowError | SheetError | SheetWarning) -> str:
    """An import error or warning (a message id and its parameters) in the page's language."""
    return str(_(problem.message_id, **problem.params))


def _column(key: str) -> str:
    """A bad row's column: the sheet's Chinese header, and its key on English pages."""
    header = _SHEET_HEADERS.get(key, key)
    return header if is_chinese() else f"{header} ({key})"


# --- browse and search ----------------------------------------------------------------------------


@console.get("/households", endpoint="households")
@require_role(*OFFICE_ROLES)
def households() -> str:
    """Households filtered by area, grid or building, or found by code, room, building, place
    name, person's name, phone or a full ID number; :data:`LIST_PAGE_SIZE` a page, all
    counted."""
    search = HouseholdSearch(
        area_id=request.args.get("area", type=int),
        grid_id=request.args.get("grid", type=int),
        building_id=request.args.get("building", type=int),
        text=(request.args.get("q") or "").strip(),
    )
    session = db_session()
    row = community()
    filters = place_filters(session, row.id, area_id=search.area_id, grid_id=search.grid_id)
    found = household_page(
        session,
        row.id,
        search,
        id_key=_id_key(),
        page=request.args.get("page", 1, type=int) or 1,
        size=LIST_PAGE_SIZE,
    )
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/households.html",
        items=[_list_item(h) for h in found.households],
        total=found.total,
        page=found.page,
        pages=found.pages,
        previous_url=url_for("console.households", **args, page=found.page - 1)
        if found.page > 1
        else None,
        next_url=url_for("console.households", **args, page=found.page + 1)
        if found.page < found.pages
        else None,
        areas=filters.areas,
        grids=filters.grids,
        buildings=building_choices(session, row.id, area_id=search.area_id, grid_id=search.grid_id),
        area_id=search.area_id,
        grid_id=search.grid_id,
        building_id=search.building_id,
        q=search.text,
    )


def _list_item(household: Household) -> dict[str, Any]:
    head = head_of(household)
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
    new_link: str | None = None,
) -> Any:
    session = db_session()
    row = community()
    found = household_or_404(None, code)
    members = [
        {
            "name": mask_name(m.name),
            "phone": mask_phone(m.phone),
            "is_head": m.is_head,
            "relation": _(RELATION_MESSAGES[m.relation]) if m.relation else "—",
            "has_id": bool(m.id_number_hash or m.id_number),
        }
        for m in found.members
    ]
    context = {
        "household": found,
        "place": _place(found.building),
        "members": members,
        "contact_phone": mask_phone(found.contact_phone),
        "passes": household_passes(session, row.id, found.id),
        "crossings": recent_household_crossings(session, row.id, found.id, limit=DETAIL_CROSSINGS),
        "today": now().astimezone(ZoneInfo(row.timezone)).date(),
        "status_form": status_form or StatusForm(),
        "issue_form": issue_form or IssueForm(),
        "revoke_form": revoke_form or RevokeForm(),
        "PassStatus": PassStatus,
        "has_link": bool(live_link_household_ids(session, [found.id])),
        "new_link": new_link,
        "new_link_local": new_link is not None and only_this_machine(new_link),
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
@writes
def household_status(code: str) -> Any:
    """Quarantine through a date, exempt, or back to normal; audited with the reason."""
    form = StatusForm()
    if not form.validate_on_submit():
        return _render_detail(code, status_form=form, status_code=400)
    found = household_or_404(None, code)
    try:
        change_status(
            db_session(),
            found,
            form.action.data,
            until=form.until.data,
            actor=actor(),
            reason=form.reason.data or "",
            now=now(),
        )
    except HouseholdError as exc:
        field = form.until if exc.code == "quarantine_date_required" else form.reason
        field.errors = [_household_error(exc)]
        request_unit().rollback()  # the page below re-reads the household as it was
        return _render_detail(code, status_form=form, status_code=400)
    flash(_("Status saved."), "success")
    return redirect(url_for("console.household", code=found.code))


@console.post("/households/<code>/passes", endpoint="household_issue")
@require_role(*OFFICE_ROLES)
@writes
def household_issue(code: str) -> Any:
    """Issue a pass, or re-issue (bumps the generation: every earlier card dies)."""
    form = IssueForm()
    if not form.validate_on_submit():
        return _render_detail(code, issue_form=form, status_code=400)
    found = household_or_404(None, code)
    try:
        issued = issue_pass(
            db_session(),
            found,
            actor=actor(),
            now=now(),
            valid_days=form.valid_days.data or 1,
            reissue=bool(form.reissue.data),
        )
    except IssuingError as exc:
        form.valid_days.errors = [_issuing_error(exc)]
        request_unit().rollback()
        return _render_detail(code, issue_form=form, status_code=409)
    flash(_("Pass issued: %(code)s", code=issued.record.manual_code or ""), "success")
    return redirect(url_for("console.household", code=found.code))


@console.post("/households/<code>/passes/<int:pass_id>/revoke", endpoint="household_revoke")
@require_role(*OFFICE_ROLES)
@writes
def household_revoke(code: str, pass_id: int) -> Any:
    """Revoke one card (lost, stolen); it is refused from now on."""
    form = RevokeForm()
    if not form.validate_on_submit():
        return _render_detail(code, revoke_form=form, status_code=400)
    found = household_or_404(None, code)
    record = _pass_of(found, pass_id)
    if record.status is not PassStatus.ACTIVE:
        flash(_("That pass is not active."), "error")
    else:
        try:
            revoke_pass(
                db_session(), record, actor=actor(), reason=form.reason.data or "", now=now()
            )
        except IssuingError as exc:
            form.reason.errors = [_issuing_error(exc)]
            request_unit().rollback()
            return _render_detail(code, revoke_form=form, status_code=400)
        flash(_("Pass revoked."), "success")
    return redirect(url_for("console.household", code=found.code))


@console.get("/households/<code>/passes/<int:pass_id>/card.png", endpoint="household_card")
@require_role(*OFFICE_ROLES)
@writes(get=True)
def household_card(code: str, pass_id: int) -> Any:
    """One active card as a PNG download (300 dpi); recorded as ``pass.card``."""
    row = community()
    found = household_or_404(None, code)
    record = _pass_of(found, pass_id)
    if record.status is not PassStatus.ACTIVE or record.generation != found.generation:
        not_found()
    filename = f"出入证-{found.code}.png"
    try:
        png = card_png(db_session(), row, found, record, actor=actor(), file_name=filename)
    except IssuingError as exc:
        return Response(_issuing_error(exc), status=409, mimetype="text/plain")
    return Response(
        png,
        mimetype="image/png",
        headers={"Content-Disposition": attachment(filename)},
    )


@console.post("/households/<code>/link", endpoint="household_link")
@require_role(*OFFICE_ROLES)
@writes
def household_link(code: str) -> Any:
    """Issue (or re-issue) the household's resident link, shown once; or revoke it."""
    if not FlaskForm().validate_on_submit():  # the CSRF token
        return _render_detail(code, status_code=400)
    found = household_or_404(None, code)
    try:
        if request.form.get("action") == "revoke":
            revoke_household_links(db_session(), [found], actor=actor(), now=now())
            flash(_("Resident link revoked."), "success")
            return redirect(url_for("console.household", code=found.code))
        [link] = issue_household_links(db_session(), [found], actor=actor(), now=now()).links
    except ResidentLinkError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        request_unit().rollback()
        return _render_detail(code, status_code=409)
    return _render_detail(code, new_link=resident_url(link.token))


def resident_url(token: str) -> str:
    """The link a resident's phone opens: on ``CHECKPOINT_PUBLIC_URL`` when it is set (the
    address phones reach), else on the address this page was opened at."""
    public = services().settings.public_url
    if public:
        return public + url_for("resident.page", token=token)
    return url_for("resident.page", token=token, _external=True)


def only_this_machine(url: str) -> bool:
    """True when ``url``'s host is this computer's own address (localhost, 127.x, ::1):
    a resident's phone cannot open it."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _pass_of(found: Household, pass_id: int) -> IssuedPass:
    record: IssuedPass = owned_or_404(None, IssuedPass, pass_id)
    if record.household_id != found.id:
        not_found()
    return record


# --- create and edit (validated exactly like an import row) ---------------------------------------


@console.route("/households/new", methods=["GET", "POST"], endpoint="household_new")
@require_role(*OFFICE_ROLES)
@writes
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
@writes
def household_edit(code: str) -> Any:
    """Edit a household's place, room, phone and head of household (status has its own form)."""
    found = household_or_404(None, code)
    existing = found.code
    form = HouseholdForm(data=None if request.method == "POST" else _prefill(found))
    if form.validate_on_submit():
        saved = _save_household(form, existing_code=existing)
        if saved is not None:
            flash(_("Household saved."), "success")
            return redirect(url_for("console.household", code=saved))
    status = 400 if form.is_submitted() else 200
    return render_template("console/household_form.html", form=form, existing=existing), status


def _prefill(found: Household) -> dict[str, str]:
    head = head_of(found)
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
    saved = save_household(
        db_session(),
        community(),
        raw,
        creating=existing_code is None,
        today=_today(),
        id_key=_id_key(),
        actor=actor(),
    )
    if saved.code_taken:
        form.household_code.errors = [_("A household with this code exists already.")]
    _errors_to_form(form, saved.errors)
    return saved.code


def _errors_to_form(form: HouseholdForm, errors: list[RowError]) -> None:
    for error in errors:
        field = getattr(form, error.field, None)
        message = _import_message(error)
        if field is None or not hasattr(field, "errors"):
            field = form.household_code
        field.errors = [*list(field.errors or []), message]


# --- spreadsheet import: template, upload -> preview -> confirm (all, or the good rows) -------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BACKGROUND_ROWS = 1000
"""A confirmed file of more rows imports as a background job with a progress bar."""
TEMPLATE_FILENAME = "住户导入模板.xlsx"
BAD_ROWS_FILENAME = "有错误的行.xlsx"


def _check(path: Path, filename: str) -> ImportPlan:
    with read_rows(path, filename) as rows:
        return validate_rows(rows, today=_today())


@console.get("/households/import/template", endpoint="households_import_template")
@require_role(*OFFICE_ROLES)
def households_import_template() -> Response:
    """The blank import template (.xlsx): Chinese header, example rows, a notes sheet."""
    buffer = io.BytesIO()
    write_template(buffer)
    return Response(
        buffer.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": attachment(TEMPLATE_FILENAME)},
    )


def _render_import(status: int = 200, **context: Any) -> Any:
    context.setdefault("form", ImportUploadForm())
    context.setdefault("preview", None)
    html = render_template("console/import.html", **context)
    return (html, status) if status != 200 else html


@console.route("/households/import", methods=["GET", "POST"], endpoint="households_import")
@require_role(*OFFICE_ROLES)
def households_import() -> Any:
    """Upload a sheet; show what importing it would do and every bad row by number.

    Read-only (no ``@writes``): parsing and the dry run never hold the write lock. The
    upload is kept (an hour at most) for the confirmation and the bad-rows download.
    """
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _render_import(400 if form.is_submitted() else 200, form=form)
    upload = form.sheet.data
    filename = Path(upload.filename or "upload.xlsx").name
    try:
        check_sheet_name(filename)  # an .xls or .docx is answered before it is stored
    except SheetError as exc:
        form.sheet.errors = [_import_message(exc)]
        return _render_import(400, form=form)
    row = community()
    stored = _uploads().save(row.id, upload, filename)
    try:
        plan = _check(stored.path, filename)
    except SheetError as exc:
        stored.discard()
        form.sheet.errors = [_import_message(exc)]
        return _render_import(400, form=form)
    result = plan_import(db_session(), row, plan, id_key=_id_key())
    preview = _preview(plan, result, filename, token=stored.token)
    if not preview["good"]:
        stored.discard()  # nothing to confirm: the office fixes the file first
        preview["token"] = None
    confirm = ImportConfirmForm(token=stored.token)
    return _render_import(form=form, preview=preview, confirm=confirm, filename=filename)


@console.post("/households/import/confirm", endpoint="households_import_confirm")
@require_role(*OFFICE_ROLES)
@writes
def households_import_confirm() -> Any:
    """Import the previewed file: all or nothing, or its good rows (``skip_bad=1``)."""
    form = ImportConfirmForm()
    filename = Path(request.form.get("filename") or "upload").name[:100]
    skip_bad = request.form.get("skip_bad") == "1"
    if not form.validate_on_submit():
        not_found()
    stored = _uploads().find(current_community_id(), form.token.data or "")
    if stored is None:
        flash(_("That upload has expired; upload the file again."), "error")
        return redirect(url_for("console.households_import"))
    # The login check opened the write transaction: end it while the file is parsed.
    request_unit().commit()
    if _row_estimate(stored.path) > BACKGROUND_ROWS:
        work = import_file_work(
            services().sessions,
            current_community_id(),
            stored.path,
            today=_today(),
            id_key=_id_key(),
            actor=actor(),
            skip_bad=skip_bad,
            source=filename,
            on_plates=plate_importer(actor=actor(), now=now()),
        )
        start_job(_uploads().directory, current_community_id(), stored.token, work, source=filename)
        return redirect(url_for("console.households_import_job", token=stored.token), 303)
    try:
        plan = _check(stored.path, stored.path.name)
    except SheetError as exc:
        stored.discard()
        flash(_import_message(exc), "error")
        return redirect(url_for("console.households_import"))
    result = apply_import(
        db_session(),
        community(),
        plan,
        id_key=_id_key(),
        actor=actor(),
        skip_bad=skip_bad,
        source=filename,
    )
    if not result.written:
        preview = _preview(plan, result, filename, token=stored.token)
        confirm = ImportConfirmForm(token=stored.token)
        return _render_import(409, preview=preview, confirm=confirm, filename=filename)
    if not result.errors:
        stored.discard()
    else:  # kept (an hour at most) for the bad-rows download
        return _render_import(done=_done(result, filename, token=stored.token))
    flash(_imported_message(result), "success")
    return redirect(url_for("console.households"))


def _row_estimate(path: Path) -> int:
    """About how many rows the stored sheet has (the .xlsx's declared size, a CSV's lines)."""
    try:
        with read_rows(path, path.name) as rows:
            if rows.estimated_rows is not None:
                return rows.estimated_rows
    except SheetError:
        return 0  # the import itself reports the problem
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@console.get("/households/import/<token>/job", endpoint="households_import_job")
@require_role(*OFFICE_ROLES)
def households_import_job(token: str) -> Any:
    """A background import: its progress (the page reloads itself), then its result."""
    job = read_job(_uploads().directory, current_community_id(), token)
    if job is None:
        flash(_("That upload has expired; upload the file again."), "error")
        return redirect(url_for("console.households_import"))
    if not job.finished:
        return _render_import(job=job)
    if job.state == "failed":
        flash(_("The import stopped and wrote nothing: check the file again."), "error")
        return redirect(url_for("console.households_import"))
    message = _imported_message(job)
    if job.skipped:
        done = {"filename": job.source, "message": message, "skipped": job.skipped,
                "token": token, "new_places": job.new_places}  # fmt: skip
        return _render_import(done=done)
    stored = _uploads().find(current_community_id(), token)
    if stored is not None:
        stored.discard()
    flash(message, "success")
    return redirect(url_for("console.households"))


@console.get("/households/import/<token>/bad-rows.xlsx", endpoint="households_import_bad_rows")
@require_role(*OFFICE_ROLES)
def households_import_bad_rows(token: str) -> Response:
    """The uploaded file's bad rows with a 错误原因 column, to fix and upload again."""
    stored = _uploads().find(current_community_id(), token)
    if stored is None:
        not_found()
    try:
        plan = _check(stored.path, stored.path.name)
    except SheetError:
        not_found()
    result = plan_import(db_session(), community(), plan, id_key=_id_key())
    data = bad_rows_workbook(
        stored.path,
        stored.path.name,
        result.errors,
        describe=_import_message,
        column_name=_column,
    )
    return Response(
        data, mimetype=XLSX, headers={"Content-Disposition": attachment(BAD_ROWS_FILENAME)}
    )


def _imported_message(result: ImportResult | JobProgress) -> str:
    return str(
        _(
            "Imported: %(created)d new, %(updated)d updated, %(unchanged)d unchanged.",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        )
    )


def _done(result: ImportResult, filename: str, *, token: str) -> dict[str, Any]:
    return {
        "filename": filename,
        "message": _imported_message(result),
        "skipped": result.skipped,
        "token": token,
        "new_places": result.new_places,
    }


def _preview(
    plan: ImportPlan, result: ImportResult, filename: str, *, token: str | None
) -> dict[str, Any]:
    return {
        "filename": filename,
        "token": token,
        "rows": plan.rows_seen,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "good": result.created + result.updated + result.unchanged,
        "errors": [
            {
                "row": e.row,
                "field": e.field,
                "column": _column(e.field),
                "code": e.code,
                "message": _import_message(e),
            }
            for e in result.errors
        ],
        "bad_rows": result.bad_rows,
        "warnings": [_import_message(w) for w in plan.warnings],
        "new_places": result.new_places,
        "status_not_applied": result.status_not_applied,
    }
