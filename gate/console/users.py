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
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.operations import AccountError, create_user, disable_user, set_role
from gate.app import services
from gate.db import transaction
from gate.web.auth import require_role

from . import console
from .common import actor, community, not_found, now
from .forms import RoleForm, UserForm


def _user_or_404(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.community_id != community(session).id:
        not_found()
    return user


def _page(form: UserForm, *, created: dict[str, str] | None = None, status: int = 200) -> Any:
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        users = session.scalars(
            select(User).where(User.community_id == row.id).order_by(User.username)
        ).all()
        html = render_template(
            "console/users.html",
            users=users,
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
def user_create() -> Any:
    """Create a user; a generated initial password is shown once."""
    form = UserForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    password = form.password.data or secrets.token_urlsafe(12)
    try:
        with transaction(services().sessions) as session:
            user = create_user(
                session,
                community_id=community(session).id,
                username=form.username.data or "",
                password=password,
                role=Role(form.role.data),
                actor=actor(),
                display_name=form.display_name.data,
            )
            username = user.username
    except AccountError as exc:
        field = form.password if exc.code not in ("bad_username", "username_taken") else None
        (field or form.username).errors = [exc.message]
        return _page(form, status=400)
    created = {"username": username, "password": "" if form.password.data else password}
    return _page(UserForm(formdata=None), created=created)


@console.post("/users/<int:user_id>/disable", endpoint="user_disable")
@require_role(Role.ADMIN)
def user_disable(user_id: int) -> Any:
    """Disable a user and end their sessions."""
    with transaction(services().sessions) as session:
        user = _user_or_404(session, user_id)
        if user.id == current_user.id:
            flash(_("You cannot disable yourself."), "error")
        else:
            disable_user(session, user, actor=actor(), now=now())
            flash(_("User disabled."), "success")
    return redirect(url_for("console.users"))


@console.post("/users/<int:user_id>/role", endpoint="user_role")
@require_role(Role.ADMIN)
def user_role(user_id: int) -> Any:
    """Change a user's role (their sessions end, so the new role applies at once)."""
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose a role."), "error")
        return redirect(url_for("console.users"))
    with transaction(services().sessions) as session:
        user = _user_or_404(session, user_id)
        new_role = Role(form.role.data)
        if user.id == current_user.id:
            flash(_("You cannot change your own role."), "error")
        elif user.role is not new_role:
            set_role(session, user, new_role, actor=actor())
            flash(_("Role changed."), "success")
    return redirect(url_for("console.users"))
