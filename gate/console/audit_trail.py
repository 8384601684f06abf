"""``/audit``: the office's audit events, filterable by actor, action and local date."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from gate.app import services
from gate.audit.models import AuditEvent
from gate.crossings.queries import local_day_bounds
from gate.db import transaction
from gate.web.auth import READ_ROLES, require_role

from . import console
from .common import community
from .forms import AuditFilterForm
from .paging import DEFAULT_PAGE_SIZE, PagingError, keyset_page


@console.get("/audit", endpoint="audit_trail")
@require_role(*READ_ROLES)
def audit_trail() -> Any:
    """Audit events of the community, newest first, keyset-paged."""
    form = AuditFilterForm(formdata=request.args, meta={"csrf": False})
    form.validate()
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        query = select(AuditEvent).where(AuditEvent.community_id == row.id)
        if form.actor.data:
            query = query.where(AuditEvent.actor == form.actor.data.strip())
        if form.action.data:
            action = form.action.data.strip()
            # "household" matches every household.* action; a full name matches exactly
            query = query.where(
                AuditEvent.action == action
                if "." in action
                else AuditEvent.action.startswith(action + ".", autoescape=True)
            )
        if form.date_from.data and not form.date_from.errors:
            start = local_day_bounds(form.date_from.data, row.timezone)[0]
            query = query.where(AuditEvent.created_at >= start)
        if form.date_to.data and not form.date_to.errors:
            end = local_day_bounds(form.date_to.data, row.timezone)[1]
            query = query.where(AuditEvent.created_at < end)
        try:
            page = keyset_page(
                session,
                query,
                at_column=AuditEvent.created_at,
                id_column=AuditEvent.id,
                token=request.args.get("after"),
                size=DEFAULT_PAGE_SIZE,
            )
        except PagingError:
            return render_template("console/error.html", message=_("Bad page link.")), 400
        events = [
            {
                "created_at": e.created_at,
                "actor": e.actor,
                "action": e.action,
                "subject": " ".join(x for x in (_subject(e.subject_type), e.subject_id) if x),
                "reason": e.reason or "",
                "details": _details(e.details_json),
            }
            for e in page.items
        ]
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
        html = render_template(
            "console/audit.html",
            form=form,
            events=events,
            next_url=url_for("console.audit_trail", **args, after=page.next_token)
            if page.next_token
            else None,
            first_url=url_for("console.audit_trail", **args) if request.args.get("after") else None,
        )
    return html


def _details(text: str) -> str:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return text
    return "" if not data else json.dumps(data, ensure_ascii=False, sort_keys=True)[:300]


SUBJECT_LABELS = {
    "community": _l("Community"),
    "crossing": _l("Crossing"),
    "device": _l("Device"),
    "export": _l("Export"),
    "household": _l("Household"),
    "import": _l("Import"),
    "pass": _l("Pass"),
    "print": _l("Print"),
    "rule_set": _l("Rules"),
    "signing_key": _l("Signing key"),
    "user": _l("User"),
}
"""What an event's ``subject_type`` is called in the UI (unknown types are shown as stored)."""


def _subject(subject_type: str | None) -> str:
    if not subject_type:
        return ""
    label = SUBJECT_LABELS.get(subject_type)
    return subject_type if label is None else str(label)
