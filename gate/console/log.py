"""The crossing log pages: the filtered log (keyset pages, newest first), its CSV/XLSX export,
the offline-conflict review queue, and the hash chain's status.

Views only translate: the filter form becomes a :class:`gate.crossings.log_filters.LogFilter`,
and the crossings feature pages, exports and audits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
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
from wtforms.fields.choices import SelectChoice

from gate.community.models import Community
from gate.crossings.export import Format, record_export, stream_export
from gate.crossings.log_filters import (
    LogFilter,
    count_log,
    crossing_labels,
    gate_choices,
    log_page,
)
from gate.crossings.models import Crossing
from gate.crossings.queries import NotReviewable, conflicts, review_conflict
from gate.devices.queries import gates_of
from gate.paging import PagingError
from gate.roster.queries import duty_names
from gate.verification.log import AuditReport, verify_log
from gate.web.auth import OFFICE_ROLES, READ_ROLES, require_role
from gate.web.unit_of_work import request_unit, writes
from passes import Direction

from . import console
from .common import actor, attachment, community, db_session, not_found, now, owned_or_404
from .forms import LogFilterForm, ReviewForm

CHAIN_CACHE_SECONDS = 60.0
_FORMATS: dict[str, tuple[Format, str]] = {
    "csv": ("csv", "text/csv; charset=utf-8"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def _filter_form(row: Community) -> LogFilterForm:
    form = LogFilterForm(formdata=request.args, meta={"csrf": False})
    form.gate.choices = [
        SelectChoice("", _("Any")),
        *(SelectChoice(str(gate.id), gate.name) for gate in gate_choices(db_session(), row.id)),
    ]
    form.validate()
    return form


def _log_filter(form: LogFilterForm, row: Community) -> LogFilter:
    """The form's valid filters as a :class:`LogFilter` (invalid ones are shown, not applied)."""

    def valid(field: Any) -> Any:
        return field.data if field.data and not field.errors else None

    gate = valid(form.gate)
    direction = form.direction.data if form.direction.data in ("out", "in") else None
    verdict = form.verdict.data if form.verdict.data in ("allowed", "refused") else None
    return LogFilter(
        community_id=row.id,
        timezone=row.timezone,
        date_from=valid(form.date_from),
        date_to=valid(form.date_to),
        gate_id=int(gate) if gate else None,
        direction=Direction(direction) if direction else None,
        verdict=verdict,
        code=valid(form.code),
        household_code=form.household.data or None,
        fever_only=bool(form.fever.data),
        offline_only=bool(form.offline.data),
        conflict_only=bool(form.conflict.data),
        late_only=bool(form.late.data),
    )


@console.get("/log", endpoint="log")
@require_role(*READ_ROLES)
def log() -> Any:
    """The crossing log, newest first, one keyset page at a time."""
    session = db_session()
    row = community(session)
    form = _filter_form(row)
    try:
        page = log_page(session, _log_filter(form, row), token=request.args.get("after"))
    except PagingError:
        return render_template("console/error.html", message=_("Bad page link.")), 400
    gate_codes, household_codes = crossing_labels(session, page.items)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    return render_template(
        "console/log.html",
        form=form,
        crossings=page.items,
        shift_names=duty_names(session, [c.shift_id for c in page.items]),
        gate_codes=gate_codes,
        household_codes=household_codes,
        next_url=url_for("console.log", **args, after=page.next_token) if page.next_token else None,
        first_url=url_for("console.log", **args) if request.args.get("after") else None,
        export_csv=url_for("console.log_export", **args, fmt="csv"),
        export_xlsx=url_for("console.log_export", **args, fmt="xlsx"),
    )


# --- export ---------------------------------------------------------------------------------------


@console.get("/log/export", endpoint="log_export")
@require_role(*READ_ROLES)
def log_export() -> Any:
    """The filtered log as CSV or XLSX, read in read-only units (no write lock while it
    reads); names masked; recorded in the audit log before the first byte."""
    fmt, mimetype = _FORMATS.get(request.args.get("fmt", "csv")) or not_found()
    session = db_session()
    row = community(session)
    log_filter = _log_filter(_filter_form(row), row)
    stamp = now().astimezone(ZoneInfo(row.timezone)).strftime("%Y%m%d-%H%M")
    filename = f"出入记录-{stamp}.{fmt}"
    rows = count_log(session, log_filter)
    # Recorded in a short write of its own before the first byte; the rows are then read
    # without the write lock.
    request_unit().write_first(
        lambda writing: record_export(
            writing,
            log_filter,
            fmt=fmt,
            unmasked=False,
            rows=rows,
            actor=actor(),
            user_id=current_user.id,
            file=filename,
        )
    )
    if fmt == "xlsx":
        # Zipped from this unit before the first byte: only a temporary file is sent.
        body: Iterator[bytes] = stream_export(session, log_filter, fmt=fmt)
    else:
        body = stream_with_context(_csv_while_sent(log_filter))
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": attachment(filename)})


def _csv_while_sent(log_filter: LogFilter) -> Iterator[bytes]:
    """The CSV, read while it is sent. Flask (3.1) tears the request down when the view
    returns (closing its unit of work) and pushes the request context again around this
    generator, so the rows come from a fresh read-only unit that the second teardown closes."""
    yield from stream_export(db_session(), log_filter, fmt="csv")


# --- conflicts ------------------------------------------------------------------------------------


@console.get("/log/conflicts", endpoint="log_conflicts")
@require_role(*READ_ROLES)
def log_conflicts() -> Any:
    """Offline conflicts awaiting review, and the latest reviewed ones."""
    session = db_session()
    row = community(session)
    pending = conflicts(session, row.id, reviewed=False)
    done = conflicts(session, row.id, reviewed=True, limit=50)
    gate_codes, household_codes = crossing_labels(session, [*pending, *done])
    return render_template(
        "console/conflicts.html",
        pending=pending,
        done=done,
        gate_codes=gate_codes,
        household_codes=household_codes,
        form=ReviewForm(),
    )


@console.post("/log/conflicts/<int:crossing_id>/review", endpoint="log_conflict_review")
@require_role(*OFFICE_ROLES)
@writes
def log_conflict_review(crossing_id: int) -> Any:
    """Mark one conflict reviewed with a note (audited)."""
    form = ReviewForm()
    if not form.validate_on_submit():
        flash(_("A review needs a note."), "error")
        return redirect(url_for("console.log_conflicts"))
    crossing: Crossing = owned_or_404(None, Crossing, crossing_id)
    try:
        review_conflict(db_session(), crossing, current_user, form.note.data or "", now())
    except NotReviewable as refused:
        if refused.code == "note_required":
            flash(_("A review needs a note."), "error")
        else:
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
    report = verify_log(db_session(), community_id)
    with _chain_lock:
        cache[community_id] = (moment, report)
    return report, 0.0


@console.get("/log/chain", endpoint="log_chain")
@require_role(*READ_ROLES)
def log_chain() -> Any:
    """Whether every gate's hash chain verifies end to end."""
    row = community()
    report, age = _chain_report(row.id)
    gate_names = {gate.code: gate.name for gate in gates_of(db_session(), row.id)}
    return render_template(
        "console/chain.html", report=report, age_seconds=int(age), gate_names=gate_names
    )
