"""The crossing log: filters, keyset paging (newest first), CSV/XLSX export of the filtered
set, the offline-conflict review queue, and the hash chain's status."""

from __future__ import annotations

import csv
import io
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from gate.accounts.models import User
from gate.app import services
from gate.audit.operations import record_event
from gate.audit.verify import AuditReport, verify_log
from gate.community.models import Community
from gate.crossings.export import HEADERS, cell_text, export_cells, export_query, neutralise
from gate.crossings.models import Crossing
from gate.crossings.queries import NotReviewable, conflicts, local_day_bounds, review_conflict
from gate.db import transaction
from gate.devices.models import Gate
from gate.households.models import Household
from gate.households.operations import normalise_household_code
from gate.web.auth import OFFICE_ROLES, READ_ROLES, require_role
from passes import Direction

from . import console
from .common import actor, attachment, community, not_found, now, owned_or_404
from .forms import LogFilterForm, ReviewForm
from .paging import DEFAULT_PAGE_SIZE, PagingError, keyset_page

CHAIN_CACHE_SECONDS = 60.0
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_CSV_FLUSH_ROWS = 500
_XLSX_MEMORY = 8 * 1024 * 1024
_CHUNK = 64 * 1024


def _filter_form(session: Session, row: Community) -> LogFilterForm:
    form = LogFilterForm(formdata=request.args, meta={"csrf": False})
    gates = session.scalars(
        select(Gate).where(Gate.community_id == row.id).order_by(Gate.code)
    ).all()
    form.gate.choices = [
        SelectChoice("", _("Any")),
        *(SelectChoice(str(g.id), f"{g.name} ({g.code})") for g in gates),
    ]
    form.validate()
    return form


def filtered(
    session: Session, row: Community, form: LogFilterForm, query: Select[Any]
) -> Select[Any]:
    """``query`` (over crossings) narrowed by the form's valid filters, always to ``row``."""
    query = query.where(Crossing.community_id == row.id)
    tz = row.timezone
    if form.date_from.data and not form.date_from.errors:
        query = query.where(Crossing.scanned_at >= local_day_bounds(form.date_from.data, tz)[0])
    if form.date_to.data and not form.date_to.errors:
        query = query.where(Crossing.scanned_at < local_day_bounds(form.date_to.data, tz)[1])
    if form.gate.data and not form.gate.errors:
        query = query.where(Crossing.gate_id == int(form.gate.data))
    if form.direction.data in ("out", "in"):
        query = query.where(Crossing.direction == Direction(form.direction.data))
    if form.verdict.data == "allowed":
        query = query.where(Crossing.allowed.is_(True))
    elif form.verdict.data == "refused":
        query = query.where(Crossing.allowed.is_(False))
    if form.code.data and not form.code.errors:
        query = query.where(Crossing.code == form.code.data)
    if form.household.data:
        household_id = session.scalar(
            select(Household.id)
            .where(
                Household.community_id == row.id,
                Household.code.in_(
                    {form.household.data.strip(), normalise_household_code(form.household.data)}
                ),
            )
            .limit(1)
        )
        query = query.where(Crossing.household_id == household_id if household_id else false())
    if form.fever.data:
        query = query.where(or_(Crossing.code == "fever", Crossing.codes.like("%fever%")))
    if form.offline.data:
        query = query.where(Crossing.offline.is_(True))
    if form.conflict.data:
        query = query.where(Crossing.conflict.is_(True))
    return query


@console.get("/log", endpoint="log")
@require_role(*READ_ROLES)
def log() -> Any:
    """The crossing log, newest first, one keyset page at a time."""
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        form = _filter_form(session, row)
        query = filtered(session, row, form, select(Crossing))
        try:
            page = keyset_page(
                session,
                query,
                at_column=Crossing.scanned_at,
                id_column=Crossing.id,
                token=request.args.get("after"),
                size=DEFAULT_PAGE_SIZE,
            )
        except PagingError:
            return render_template("console/error.html", message=_("Bad page link.")), 400
        gate_codes, household_codes = _labels(session, page.items)
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
        html = render_template(
            "console/log.html",
            form=form,
            crossings=page.items,
            gate_codes=gate_codes,
            household_codes=household_codes,
            next_url=url_for("console.log", **args, after=page.next_token)
            if page.next_token
            else None,
            first_url=url_for("console.log", **args) if request.args.get("after") else None,
            export_csv=url_for("console.log_export", **args, fmt="csv"),
            export_xlsx=url_for("console.log_export", **args, fmt="xlsx"),
        )
    return html


def _labels(session: Session, crossings: Any) -> tuple[dict[int, str], dict[int, str]]:
    gate_ids = {c.gate_id for c in crossings}
    household_ids = {c.household_id for c in crossings if c.household_id is not None}
    gate_rows = session.execute(select(Gate.id, Gate.code).where(Gate.id.in_(gate_ids))).all()
    household_rows = session.execute(
        select(Household.id, Household.code).where(Household.id.in_(household_ids))
    ).all()
    gates: dict[int, str] = dict(gate_rows)
    households: dict[int, str] = dict(household_rows)
    return gates, households


# --- export ---------------------------------------------------------------------------------------


@console.get("/log/export", endpoint="log_export")
@require_role(*READ_ROLES)
def log_export() -> Any:
    """The filtered log as CSV (streamed) or XLSX; names masked; audited."""
    fmt = request.args.get("fmt", "csv")
    if fmt not in ("csv", "xlsx"):
        not_found()
    sessions = services().sessions
    with transaction(sessions, read_only=True) as session:
        row = community(session)
        form = _filter_form(session, row)
        community_id, tz = row.id, row.timezone
        query = filtered(
            session,
            row,
            form,
            export_query(community_id=row.id, start=_EARLIEST, end=now() + timedelta(days=1)),
        )
    filters = {k: v for k, v in request.args.items() if k != "fmt"}
    with transaction(sessions) as session:
        record_event(
            session,
            actor=actor(),
            action="crossings.export",
            community_id=community_id,
            subject_type="export",
            subject_id=fmt,
            details={"filters": filters, "masked": True},
        )
    stamp = now().astimezone(ZoneInfo(tz)).strftime("%Y%m%d-%H%M")
    filename = f"crossings-{stamp}.{fmt}"
    zone = ZoneInfo(tz)
    if fmt == "csv":
        body = stream_with_context(_csv_stream(sessions, query, zone))
        mimetype = "text/csv; charset=utf-8"
    else:
        body = _xlsx_stream(sessions, query, zone)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": attachment(filename)})


def _csv_stream(sessions: Any, query: Select[Any], zone: ZoneInfo) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    with transaction(sessions, read_only=True) as session:
        rows = session.execute(query, execution_options={"yield_per": 2000})
        for count, cells in enumerate(export_cells(rows, zone, unmasked=False), start=1):
            writer.writerow([cell_text(v) for v in cells])
            if count % _CSV_FLUSH_ROWS == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_stream(sessions: Any, query: Select[Any], zone: ZoneInfo) -> Iterator[bytes]:
    """Build the workbook (write-only: rows go to disk) before the first byte, then stream it."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    spool = tempfile.SpooledTemporaryFile(max_size=_XLSX_MEMORY)  # noqa: SIM115 (closed below)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("通行记录")
    sheet.append(list(HEADERS))
    with transaction(sessions, read_only=True) as session:
        rows = session.execute(query, execution_options={"yield_per": 2000})
        for cells in export_cells(rows, zone, unmasked=False):
            stamp = WriteOnlyCell(sheet, value=cells[0])
            stamp.number_format = "yyyy-mm-dd hh:mm:ss"
            rest = [
                ILLEGAL_CHARACTERS_RE.sub("", neutralise(v)) if isinstance(v, str) else v
                for v in cells[1:]
            ]
            sheet.append([stamp, *rest])
    workbook.save(spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := spool.read(_CHUNK):
                yield chunk
        finally:
            spool.close()

    return chunks()


# --- conflicts ------------------------------------------------------------------------------------


@console.get("/log/conflicts", endpoint="log_conflicts")
@require_role(*READ_ROLES)
def log_conflicts() -> Any:
    """Offline conflicts awaiting review, and the latest reviewed ones."""
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        pending = conflicts(session, row.id, reviewed=False)
        done = conflicts(session, row.id, reviewed=True, limit=50)
        gate_codes, household_codes = _labels(session, [*pending, *done])
        html = render_template(
            "console/conflicts.html",
            pending=pending,
            done=done,
            gate_codes=gate_codes,
            household_codes=household_codes,
            form=ReviewForm(),
        )
    return html


@console.post("/log/conflicts/<int:crossing_id>/review", endpoint="log_conflict_review")
@require_role(*OFFICE_ROLES)
def log_conflict_review(crossing_id: int) -> Any:
    """Mark one conflict reviewed with a note (audited)."""
    form = ReviewForm()
    if not form.validate_on_submit():
        flash(_("A review needs a note."), "error")
        return redirect(url_for("console.log_conflicts"))
    with transaction(services().sessions) as session:
        crossing: Crossing = owned_or_404(session, Crossing, crossing_id)
        user = session.get(User, current_user.id)
        if user is None:
            not_found()
        try:
            review_conflict(session, crossing, user, form.note.data or "", now())
        except NotReviewable:
            flash(_("This crossing is not a conflict, or was reviewed already."), "error")
        else:
            flash(_("Conflict marked as reviewed."), "success")
    return redirect(url_for("console.log_conflicts"))


# --- hash chain -----------------------------------------------------------------------------------

_chain_lock = threading.Lock()


def _chain_report(community_id: int) -> tuple[AuditReport, float]:
    """verify_log for the community, cached for a minute per app and community."""
    cache: dict[int, tuple[float, AuditReport]] = current_app.extensions.setdefault(
        "console_chain_cache", {}
    )
    moment = time.monotonic()
    with _chain_lock:
        hit = cache.get(community_id)
    if hit is not None and moment - hit[0] < CHAIN_CACHE_SECONDS:
        return hit[1], moment - hit[0]
    with transaction(services().sessions, read_only=True) as session:
        report = verify_log(session, community_id)
    with _chain_lock:
        cache[community_id] = (moment, report)
    return report, 0.0


@console.get("/log/chain", endpoint="log_chain")
@require_role(*READ_ROLES)
def log_chain() -> Any:
    """Whether every gate's hash chain verifies end to end."""
    with transaction(services().sessions, read_only=True) as session:
        community_id = community(session).id
    report, age = _chain_report(community_id)
    return render_template("console/chain.html", report=report, age_seconds=int(age))
