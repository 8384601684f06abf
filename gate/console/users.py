"""``/users`` (admin only): create users (initial password shown once), disable, change role.

The work is :mod:`gate.accounts.operations`' (audited; disabling or a role change bumps
``session_version``, which ends the user's sessions).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gate.accounts.models import Role, User
from gate.accounts.operations import (
    AccountError,
    community_user,
    community_users,
    create_user,
    disable_user,
    set_role,
)
from gate.web.auth import current_community_id, require_role
from gate.web.unit_of_work import db_session, writes

from . import console
from .common import actor, not_found, now
from .forms import RoleForm, UserForm


def _user_or_404(user_id: int) -> User:
    user = community_user(db_session(), current_community_id(), user_id)
    if user is None:
        not_found()
    return user


def _page(form: UserForm, *, created: dict[str, str] | None = None, status: int = 200) -> Any:
    html = render_template(
        "console/users.html",
        users=community_users(db_session(), current_community_id()),
        form=form,
        role_form=RoleForm(),
        created=created,
        me=current_user.id,
    )
    return html, status


@console.get("/users", endpoint="users")
@require_role(Role.ADMIN)
def users() -> Any:
    """The community's users."""
    return _page(UserForm())


@console.post("/users", endpoint="user_create")
@require_role(Role.ADMIN)
@writes
def user_create() -> Any:
    """Create a user; a generated initial password is shown once."""
    form = UserForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    password = form.password.data or secrets.token_urlsafe(12)
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
    return _page(UserForm(formdata=None), created=created)


@console.post("/users/<int:user_id>/disable", endpoint="user_disable")
@require_role(Role.ADMIN)
@writes
def user_disable(user_id: int) -> Any:
    """Disable a user and end their sessions."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash(_("You cannot disable yourself."), "error")
    else:
        disable_user(db_session(), user, actor=actor(), now=now())
        flash(_("User disabled."), "success")
    return redirect(url_for("console.users"))


@console.post("/users/<int:user_id>/role", endpoint="user_role")
@require_role(Role.ADMIN)
@writes
def user_role(user_id: int) -> Any:
    """Change a user's role (their sessions end, so the new role applies at once)."""
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose a role."), "error")
        return redirect(url_for("console.users"))
    user = _user_or_404(user_id)
    new_role = Role(form.role.data)
    if user.id == current_user.id:
        flash(_("You cannot change your own role."), "error")
    elif user.role is not new_role:
        set_role(db_session(), user, new_role, actor=actor())
        flash(_("Role changed."), "success")
    return redirect(url_for("console.users"))
