"""The first run in the browser (blueprint ``firstrun``): ``/setup/<token>``, then the
first gate, the rules template and the next steps.

1. ``/setup/<token>``: the one-time link ``checkpoint serve`` prints while no account
   exists. One form: the first administrator, then the community (name, time zone,
   address); both are created in one transaction, the token is used up and the
   administrator logged in. An unknown token answers 404; a used or expired one, or any
   token once an account exists, 410: the page is closed for good.
2. ``/setup/gate``, ``/setup/rules`` (administrator): the first gate (出入口) and a rules
   template (三天一出 ...); each may be skipped and redone later in the console.
3. ``/setup/done``: the next steps, with links (import, issue, print, devices).

Step 1 shows every mistake at once (the form's checks and the account's and community's:
:func:`~gate.accounts.firstrun.first_run_problems`) and keeps every answer but the two
passwords. The time zone is a list (Beijing time first); 北京时间 or UTC+8 sent instead is
Asia/Shanghai. An administrator who left after step 1 is offered the gate step on the
dashboard (:func:`setup_next_step`).

The work is the features' (``gate.accounts.firstrun``, ``gate.devices.gates``,
``gate.community.operations.save_rules``), which record their own audit events.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from gate.accounts.firstrun import (
    COMMON_TIMEZONES,
    FirstRun,
    SetupClosed,
    complete_first_run,
    first_run_problems,
    normalise_timezone,
    setup_token_state,
)
from gate.accounts.models import Role
from gate.accounts.operations import AccountError
from gate.accounts.passwords import MAX_LENGTH
from gate.community.context import current_rules
from gate.community.operations import save_rules
from gate.community.queries import community_by_id
from gate.community.setup import SetupError
from gate.devices.gates import GateError, add_gate
from gate.devices.queries import gates_of, gates_with_devices
from gate.rules.templates import DEFAULT_TEMPLATE, RULE_TEMPLATES, matching_template, template_rules
from gate.services import now, services
from gate.signing.operations import create_signing_key
from gate.web.auth import current_account, current_community_id, require_role, start_session
from gate.web.unit_of_work import db_session, request_unit, writes
from gate.web.validators import DataRequired, EqualTo, Length, Optional

firstrun = Blueprint("firstrun", __name__, url_prefix="/setup")

_USERNAME_FIELDS = ("bad_username", "username_taken")
_COMMUNITY_FIELDS = {"bad_name": "community_name", "bad_timezone": "timezone"}


class FirstRunForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """The first administrator and the community, on one page."""

    username = StringField(
        _l("Username"),
        validators=[DataRequired(message=_l("Enter a username.")), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "autofocus": True},
    )
    display_name = StringField(_l("Your name"), validators=[Optional(), Length(max=64)])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter a password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    password_again = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    community_name = StringField(
        _l("Community name"),
        validators=[DataRequired(message=_l("Enter the community's name.")), Length(max=100)],
    )
    timezone = SelectField(
        _l("Time zone"),
        choices=[],  # TIMEZONE_LABELS, and the server's zone if it is another one
        validate_choice=False,  # a typed 北京时间 / UTC+8 or any IANA name: checked in the view
        validators=[DataRequired(), Length(max=64)],
    )
    address = StringField(_l("Address (optional)"), validators=[Optional(), Length(max=200)])


TIMEZONE_LABELS = {
    "Asia/Shanghai": _l("Beijing time (Asia/Shanghai)"),
    "Asia/Urumqi": _l("Xinjiang time (Asia/Urumqi)"),
    "Asia/Hong_Kong": _l("Hong Kong (Asia/Hong_Kong)"),
    "Asia/Macau": _l("Macau (Asia/Macau)"),
    "Asia/Taipei": _l("Taipei (Asia/Taipei)"),
    "UTC": _l("UTC (Coordinated Universal Time)"),
}
"""The labels of :data:`~gate.accounts.firstrun.COMMON_TIMEZONES`, Beijing time first."""


def _timezone_choices(form: FirstRunForm, *extra: str) -> None:
    names = [*COMMON_TIMEZONES, *(z for z in extra if z and z not in COMMON_TIMEZONES)]
    form.timezone.choices = [SelectChoice(z, TIMEZONE_LABELS.get(z, z)) for z in names]


class GateForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """The first gate: its name as the office says it."""

    name = StringField(
        _l("Gate name"),
        validators=[DataRequired(message=_l("Enter the gate's name.")), Length(max=100)],
        render_kw={"placeholder": _l("e.g. 南门")},
    )


class TemplateForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """One of the rule templates."""

    template = RadioField(
        _l("Outing rules"),
        choices=[SelectChoice(name, label) for name, (label, _rules) in RULE_TEMPLATES.items()],
        default=DEFAULT_TEMPLATE,
    )


@firstrun.app_context_processor
def _setup_context() -> dict[str, object]:
    return {"setup_next_step": setup_next_step}


def setup_next_step() -> str | None:
    """Where an administrator continues a first-time setup left after step 1, or None.

    Nothing records the wizard's steps: step 1 is done once anyone can log in, and the
    community's gates tell step 2 (the rules of step 3 exist from the start, a template is
    optional). So while the community has no gate, the dashboard offers ``/setup/gate``
    (``setup/_continue.html``); a community with a gate is set up, however it got there.
    """
    account = current_account()
    if account is None or account.role is not Role.ADMIN:
        return None
    if gates_of(db_session(), account.community_id):
        return None
    return url_for("firstrun.gate")


# --- 1. the administrator and the community ---------------------------------------------------


@firstrun.route("/<token>", methods=["GET", "POST"], endpoint="start")
@writes
def start(token: str) -> Any:
    """The one-time setup page (see the module's docstring)."""
    state = setup_token_state(db_session(), token, now=now())
    if state == "unknown":
        abort(404)
    if state == "gone":
        return render_template("setup/closed.html"), 410
    form = FirstRunForm()
    server_zone = services().settings.timezone
    if not form.is_submitted():
        form.timezone.data = server_zone
        _timezone_choices(form, server_zone)
        return _step1(form, 200)
    form.timezone.data = normalise_timezone(form.timezone.data or "")
    _timezone_choices(form, server_zone, form.timezone.data)
    valid = form.validate_on_submit()
    first = FirstRun(
        username=form.username.data or "",
        display_name=form.display_name.data or "",
        password=form.password.data or "",
        community_name=form.community_name.data or "",
        timezone=form.timezone.data or "",
        address=form.address.data or "",
    )
    # Every mistake at once: the form's own checks and the account's and community's.
    for name, problem in first_run_problems(first).items():
        field = getattr(form, name)
        if not field.errors:
            field.errors = [_(problem.message_id, **problem.params)]
            valid = False
    if not valid:
        return _step1(form, 400)
    try:
        user, community = complete_first_run(db_session(), token, first, now=now())
    except SetupClosed:
        return render_template("setup/closed.html"), 410
    except AccountError as exc:
        field = form.username if exc.code in _USERNAME_FIELDS else form.password
        field.errors = [_(exc.message_id, **exc.params)]
        return _step1(form, 400)
    except SetupError as exc:
        field = getattr(form, _COMMUNITY_FIELDS.get(exc.code, "community_name"))
        field.errors = [_(exc.message_id, **exc.params)]
        return _step1(form, 400)
    # The signing key last: its private file is written outside the transaction, and
    # nothing that may still fail comes after it.
    create_signing_key(
        db_session(),
        community_id=community.id,
        keys_dir=services().settings.keys_dir,
        actor=user.username,
        now=now(),
    )
    start_session(user, community)
    return redirect(url_for("firstrun.gate"))


def _step1(form: FirstRunForm, status: int) -> tuple[str, int]:
    return render_template("setup/start.html", form=form, step=1), status


# --- 2. the first gate, 3. the rules ------------------------------------------------------------


@firstrun.route("/gate", methods=["GET", "POST"], endpoint="gate")
@require_role(Role.ADMIN)
@writes
def gate() -> Any:
    """The first gate (more are added in the console)."""
    session = db_session()
    community = _community()
    form = GateForm()
    if form.validate_on_submit():
        try:
            add_gate(session, community, name=form.name.data or "", code=None, actor=_actor())
        except GateError as exc:
            form.name.errors = [_(exc.message_id, **exc.params)]
        else:
            return redirect(url_for("firstrun.rules"))
    status = 400 if form.errors else 200
    gates = gates_with_devices(session, community.id)
    return render_template("setup/gate.html", form=form, gates=gates, step=2), status


@firstrun.route("/rules", methods=["GET", "POST"], endpoint="rules")
@require_role(Role.ADMIN)
@writes
def rules() -> Any:
    """A rules template for the community (the console's rules page edits every field)."""
    session = db_session()
    community = _community()
    form = TemplateForm()
    if form.validate_on_submit():
        name = form.template.data or DEFAULT_TEMPLATE
        save_rules(session, community, template_rules(name, community.timezone), actor=_actor())
        community_id = community.id
        request_unit().after_commit(lambda: services().contexts.invalidate(community_id))
        return redirect(url_for("firstrun.done"))
    if not form.is_submitted():
        form.template.data = matching_template(current_rules(session, community)) or (
            DEFAULT_TEMPLATE
        )
    status = 400 if form.errors else 200
    return render_template("setup/rules.html", form=form, step=3), status


@firstrun.get("/done", endpoint="done")
@require_role(Role.ADMIN)
def done() -> str:
    """What to do next, with links to the pages that do it."""
    steps = [
        (_("Import the households from a spreadsheet"), _first_url("console.households_import")),
        (_("Issue passes for a building or everyone"), _first_url("console.passes")),
        (_("Print the pass cards"), _first_url("console.passes")),
        (_("Add a scanner at the gate and enrol it"), _first_url("console.devices")),
        (_("Add the office's users"), _first_url("console.users")),
    ]
    return render_template("setup/done.html", steps=steps, step=4, community=_community())


def _first_url(*endpoints: str) -> str | None:
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


def _community() -> Any:
    row = community_by_id(db_session(), current_community_id())
    if row is None:
        abort(404)
    return row


def _actor() -> str:
    return str(current_user.username)
