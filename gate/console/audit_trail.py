"""``/audit``: the office's audit events, filterable by actor, action and local date."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from gate.accounts.operations import community_user, community_users, normalize_username
from gate.audit.masking import mask_manual_code
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
    names = _Names(row.id, row.code, row.name)
    events = [
        {
            "created_at": e.created_at,
            "actor": names.actor(e.actor),
            "action": e.action,
            "action_label": action_label(e.action),
            "subject": " ".join(
                x
                for x in (_subject(e.subject_type), names.subject(e.subject_type, e.subject_id))
                if x
            ),
            "reason": e.reason or "",
            "details": audit_details(e.details_json, subject_type=e.subject_type),
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
    "supervisor_card": _l("Supervisor card"),
    "user": _l("User"),
    "vehicle": _l("Vehicle"),
    "vehicle_pass": _l("Vehicle pass"),
    "visitor_pass": _l("Visitor pass"),
    "walk_in": _l("Walk-in"),
    "zone_lock": _l("Zone lock"),
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
        if username in (user.username, normalize_username(user.display_name or "")):
            forms += [f"user:{user.id}", user.username, f"setup:{user.username}"]
    for gate in gates_with_devices(db_session(), community_id):
        forms += [f"device:{device.id}" for device in gate.devices if device.name == typed]
    return tuple(dict.fromkeys(forms))


class _Names:
    """How an event's actor and subject read, looked up once a page: an account (``user:5``,
    its username, ``setup:<username>``) by the person's name as the crossing log shows
    people; a scanner (``device:3``, a device subject) by its name; this community by its
    name; a pass (whose subject is its manual code, a credential) masked. Anything else
    (``demo``, ``cli``) as stored."""

    def __init__(self, community_id: int, community_code: str, community_name: str) -> None:
        self._community_id = community_id
        self._community = {str(community_id), community_code}
        self._community_name = community_name
        self._people: dict[str, str] | None = None
        self._devices: dict[int, str] = {}

    def actor(self, actor: str) -> str:
        kind, _colon, rest = actor.partition(":")
        if kind == "user" and rest.isdigit():
            return self._person_by_id(int(rest))
        if kind == "device" and rest.isdigit():
            return self._device(int(rest))
        if kind == "setup" and rest:
            return self.people().get(rest, rest)
        return self.people().get(actor, actor)

    def subject(self, subject_type: str | None, subject_id: str | None) -> str:
        if not subject_id:
            return ""
        if subject_type == "pass":
            return mask_manual_code(subject_id)
        if subject_type == "community" and subject_id in self._community:
            return self._community_name
        if subject_type == "device" and subject_id.isdigit():
            return self._device(int(subject_id))
        if subject_type == "user":
            return self.people().get(subject_id, subject_id)
        return subject_id

    def people(self) -> dict[str, str]:
        """The community's accounts: username -> the name shown (the username if none)."""
        if self._people is None:
            self._people = {
                user.username: (user.display_name or "").strip() or user.username
                for user in community_users(db_session(), self._community_id)
            }
        return self._people

    def _person_by_id(self, user_id: int) -> str:
        user = community_user(db_session(), self._community_id, user_id)
        if user is None:
            return str(_("Account %(id)s", id=user_id))
        return self.people().get(user.username, user.username)

    def _device(self, device_id: int) -> str:
        if device_id not in self._devices:
            device = device_of(db_session(), device_id, self._community_id)
            self._devices[device_id] = device.name if device else _("Scanner %(id)s", id=device_id)
        return self._devices[device_id]


def _subject(subject_type: str | None) -> str:
    if not subject_type:
        return ""
    label = SUBJECT_LABELS.get(subject_type)
    return subject_type if label is None else str(label)
