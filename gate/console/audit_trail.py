"""``/audit``: the office's audit events, filterable by actor, action and local date."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from gate.accounts.operations import community_user, community_users, normalize_username
from gate.audit.queries import AuditFilter, audit_trail_page
from gate.crossings.queries import local_day_bounds
from gate.devices.queries import device_of, gates_with_devices
from gate.paging import DEFAULT_PAGE_SIZE, PagingError
from gate.web.auth import READ_ROLES, require_role
from gate.web.labels import action_choices, action_label, audit_details

from . import console
from .common import community, db_session
from .forms import AuditFilterForm


class AuditTrailForm(AuditFilterForm):
    """The audit filters, the action a select of labels (a prefix such as ``pass`` picks every
    ``pass.*`` action); its choices are set per request, in the request's language."""

    action = SelectField(_l("Action"), choices=[], validators=[Optional()], validate_choice=True)


@console.get("/audit", endpoint="audit_trail")
@require_role(*READ_ROLES)
def audit_trail() -> Any:
    """Audit events of the community, newest first, keyset-paged."""
    form = AuditTrailForm(formdata=request.args, meta={"csrf": False})
    form.action.choices = [("", _("Any")), *action_choices()]
    form.validate()
    row = community()
    wanted = AuditFilter(
        actors=actor_forms(row.id, (form.actor.data or "").strip()),
        action=None if form.action.errors else (form.action.data or "").strip() or None,
        start=local_day_bounds(form.date_from.data, row.timezone)[0]
        if form.date_from.data and not form.date_from.errors
        else None,
        end=local_day_bounds(form.date_to.data, row.timezone)[1]
        if form.date_to.data and not form.date_to.errors
        else None,
    )
    try:
        page = audit_trail_page(
            db_session(), row.id, wanted, token=request.args.get("after"), size=DEFAULT_PAGE_SIZE
        )
    except PagingError:
        return render_template("console/error.html", message=_("Bad page link.")), 400
    actors = _ActorNames(row.id)
    events = [
        {
            "created_at": e.created_at,
            "actor": actors.label(e.actor),
            "action": e.action,
            "action_label": action_label(e.action),
            "subject": " ".join(x for x in (_subject(e.subject_type), e.subject_id) if x),
            "reason": e.reason or "",
            "details": audit_details(e.details_json),
        }
        for e in page.items
    ]
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    return render_template(
        "console/audit.html",
        form=form,
        events=events,
        next_url=url_for("console.audit_trail", **args, after=page.next_token)
        if page.next_token
        else None,
        first_url=url_for("console.audit_trail", **args) if request.args.get("after") else None,
    )


SUBJECT_LABELS = {
    "area": _l("Area"),
    "building": _l("Building"),
    "community": _l("Community"),
    "compound": _l("Compound"),
    "crossing": _l("Crossing"),
    "device": _l("Device"),
    "duty_shift": _l("Duty shift"),
    "errand": _l("Errand"),
    "errand_squad": _l("Squad"),
    "export": _l("Export"),
    "gate": _l("Gate"),
    "grid": _l("Grid"),
    "household": _l("Household"),
    "import": _l("Import"),
    "pass": _l("Pass"),
    "print": _l("Print"),
    "roster": _l("Duty roster"),
    "rule_set": _l("Rules"),
    "signing_key": _l("Signing key"),
    "user": _l("User"),
}
"""What an event's ``subject_type`` is called in the UI (unknown types are shown as stored)."""


def actor_forms(community_id: int, typed: str) -> tuple[str, ...]:
    """Every form an actor the clerk typed may be stored under: the text itself, and for an
    account of this community by that username ``user:<id>`` and the username, for a
    scanner by that name ``device:<id>`` (the page shows names, so names must find them).
    Empty when nothing was typed."""
    if not typed:
        return ()
    forms = [typed]
    username = normalize_username(typed)
    for user in community_users(db_session(), community_id):
        if user.username == username:
            forms += [f"user:{user.id}", user.username]
    for gate in gates_with_devices(db_session(), community_id):
        forms += [f"device:{device.id}" for device in gate.devices if device.name == typed]
    return tuple(dict.fromkeys(forms))


class _ActorNames:
    """How an event's actor reads: ``user:5`` as the account's name, ``device:3`` as the
    scanner's; anything else (a name, ``demo``, ``cli``) as stored. Looked up once a page."""

    def __init__(self, community_id: int) -> None:
        self._community_id = community_id
        self._known: dict[str, str] = {}

    def label(self, actor: str) -> str:
        if actor not in self._known:
            self._known[actor] = self._look_up(actor)
        return self._known[actor]

    def _look_up(self, actor: str) -> str:
        kind, _colon, number = actor.partition(":")
        if not number.isdigit():
            return actor
        if kind == "user":
            user = community_user(db_session(), self._community_id, int(number))
            return user.username if user else _("Account %(id)s", id=number)
        if kind == "device":
            device = device_of(db_session(), int(number), self._community_id)
            return device.name if device else _("Scanner %(id)s", id=number)
        return actor


def _subject(subject_type: str | None) -> str:
    if not subject_type:
        return ""
    label = SUBJECT_LABELS.get(subject_type)
    return subject_type if label is None else str(label)
