"""``/users`` (admin only): the community's users and the accounts granted access to it;
create users (initial password shown once), set a new password for a user who forgot
theirs (generated, shown once), disable, change role, give an existing account
(of another community: a district's) a role here, or take it away.

The work is :mod:`gate.accounts.operations`' and :mod:`gate.accounts.memberships`'
(audited; disabling, a role change, a grant or a revocation bumps ``session_version``,
which ends the user's sessions).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from gate.accounts.memberships import Member, community_member, community_members, grant, revoke
from gate.accounts.models import Role
from gate.accounts.operations import (
    AccountError,
    create_user,
    disable_user,
    find_user,
    set_password,
)
from gate.accounts.passwords import generate_password
from gate.web.auth import current_community_id, require_role
from gate.web.unit_of_work import db_session, writes

from . import console
from .common import actor, community, not_found, now
from .forms import RoleForm, UserForm

ROLE_CHOICES = [
    SelectChoice(Role.OFFICE.value, _l("Office staff")),
    SelectChoice(Role.AUDITOR.value, _l("Auditor")),
    SelectChoice(Role.SUPERVISOR.value, _l("Gate supervisor")),
    SelectChoice(Role.VOLUNTEER.value, _l("Gate volunteer")),
    SelectChoice(Role.DISTRICT_OFFICE.value, _l("District office")),
    SelectChoice(Role.DISTRICT_AUDITOR.value, _l("District auditor")),
    SelectChoice(Role.ADMIN.value, _l("Administrator")),
]
"""Every role, the district's included (the forms module lists the community's own)."""


def _with_roles(form: Any) -> Any:
    form.role.choices = ROLE_CHOICES
    return form


def _member_or_404(user_id: int) -> Member:
    member = community_member(db_session(), current_community_id(), user_id)
    if member is None:
        not_found()
    return member


def _page(
    form: UserForm,
    *,
    created: dict[str, str] | None = None,
    reset: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    html = render_template(
        "console/users.html",
        members=community_members(db_session(), current_community_id()),
        form=form,
        role_form=_with_roles(RoleForm(formdata=None)),
        grant_form=_with_roles(RoleForm(formdata=None)),
        created=created,
        reset=reset,
        me=current_user.id,
    )
    return html, status


@console.get("/users", endpoint="users")
@require_role(Role.ADMIN)
def users() -> Any:
    """The community's users and granted accounts."""
    return _page(_with_roles(UserForm()))


@console.post("/users", endpoint="user_create")
@require_role(Role.ADMIN)
@writes
def user_create() -> Any:
    """Create a user; a generated initial password is shown once."""
    form = _with_roles(UserForm())
    if not form.validate_on_submit():
        return _page(form, status=400)
    password = form.password.data or generate_password((form.username.data or "").strip().lower())
    try:
        user = create_user(
            db_session(),
            community_id=current_community_id(),
            username=form.username.data or "",
            password=password,
            role=Role(form.role.data),
            actor=actor(),
            display_name=form.display_name.data,
        )
        username = user.username
    except AccountError as exc:
        field = form.password if exc.code not in ("bad_username", "username_taken") else None
        (field or form.username).errors = [_(exc.message_id, **exc.params)]
        return _page(form, status=400)
    created = {"username": username, "password": "" if form.password.data else password}
    return _page(_with_roles(UserForm(formdata=None)), created=created)


@console.post("/users/<int:user_id>/disable", endpoint="user_disable")
@require_role(Role.ADMIN)
@writes
def user_disable(user_id: int) -> Any:
    """Disable a user of this community and end their sessions (a granted account is
    disabled by its own community; here its access is taken away)."""
    member = _member_or_404(user_id)
    if member.user.id == current_user.id:
        flash(_("You cannot disable yourself."), "error")
    elif not member.home:
        flash(
            _("This account belongs to another community: take its access away instead."), "error"
        )
    else:
        disable_user(db_session(), member.user, actor=actor(), now=now())
        flash(_("User disabled."), "success")
    return redirect(url_for("console.users"))


@console.post("/users/<int:user_id>/password", endpoint="user_password")
@require_role(Role.ADMIN)
@writes
def user_password(user_id: int) -> Any:
    """Give a user of this community who forgot their password a new, generated one,
    shown once on the answer (``set_password``, as ``checkpoint users set-password``: audited,
    the user's sessions end). One's own password is changed on ``/account``; a granted
    account's by its own community."""
    member = _member_or_404(user_id)
    if member.user.id == current_user.id:
        flash(_("Change your own password on the My account page."), "error")
    elif not member.home:
        flash(
            _("This account belongs to another community: its administrator sets its password."),
            "error",
        )
    elif member.user.disabled_at is not None:
        flash(_("This user is disabled."), "error")
    else:
        password = generate_password(member.user.username)
        set_password(db_session(), member.user, password, actor=actor())
        reset = {"username": member.user.username, "password": password}
        return _page(_with_roles(UserForm(formdata=None)), reset=reset)
    return redirect(url_for("console.users"))


@console.post("/users/<int:user_id>/role", endpoint="user_role")
@require_role(Role.ADMIN)
@writes
def user_role(user_id: int) -> Any:
    """Change a user's role here (their sessions end, so the new role applies at once)."""
    form = _with_roles(RoleForm())
    if not form.validate_on_submit():
        flash(_("Choose a role."), "error")
        return redirect(url_for("console.users"))
    member = _member_or_404(user_id)
    new_role = Role(form.role.data)
    if member.user.id == current_user.id:
        flash(_("You cannot change your own role."), "error")
    elif member.role is not new_role:
        grant(db_session(), member.user, community(), new_role, actor=actor())
        flash(_("Role changed."), "success")
    return redirect(url_for("console.users"))


@console.post("/users/grant", endpoint="user_grant")
@require_role(Role.ADMIN)
@writes
def user_grant() -> Any:
    """Give an existing account (of another community) a role in this community."""
    form = _with_roles(RoleForm())
    username = (request.form.get("username") or "").strip()
    user = find_user(db_session(), username) if username else None
    if not form.validate_on_submit() or user is None:
        flash(_("No user %(username)s: check the username.", username=username), "error")
        return redirect(url_for("console.users"))
    if user.id == current_user.id:
        flash(_("You cannot change your own role."), "error")
        return redirect(url_for("console.users"))
    outcome = grant(db_session(), user, community(), Role(form.role.data), actor=actor())
    if outcome != "unchanged":
        flash(_("%(username)s may now open this community.", username=user.username), "success")
    return redirect(url_for("console.users"))


@console.post("/users/<int:user_id>/revoke", endpoint="user_revoke")
@require_role(Role.ADMIN)
@writes
def user_revoke(user_id: int) -> Any:
    """Take this community away from an account granted access to it."""
    member = _member_or_404(user_id)
    try:
        revoke(db_session(), member.user, community(), actor=actor())
    except AccountError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.users"))
    flash(_("Access taken away."), "success")
    return redirect(url_for("console.users"))
