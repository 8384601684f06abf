"""Who is logged in, and what each role may see (Flask-Login).

Contract for views::

    from gate.web.auth import READ_ROLES, current_community_id, require_role

    @console.get("/crossings")
    @require_role(*READ_ROLES)
    def crossings() -> str:
        community_id = current_community_id()
        ...

- ``require_role(*roles)``: not logged in -> redirect to ``/login?next=<this page>`` (JSON
  callers get 401 JSON instead); logged in without one of ``roles`` -> 403. ADMIN passes every
  check; ``require_role()`` with no roles only requires a login.
- ``flask_login.current_user`` is an :class:`Account` (a snapshot of the ``User`` row and its
  community, loaded once per request) or Flask-Login's anonymous user.
- The login session stores ``"<user id>:<session_version>"``; when the user is disabled or
  their sessions are ended (``session_version`` bumped: logout, password or role change),
  the session no longer loads: the next request is anonymous, also for a copy of the cookie.
- Session protection is "strong": a session used from another address or browser ends. The
  address is ``request.remote_addr``: ``X-Forwarded-For`` counts only behind the
  ``CHECKPOINT_PROXY_COUNT`` trusted proxies (``gate.app.configure_proxy``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, abort, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from gate.accounts.models import Role, User
from gate.accounts.operations import user_and_community
from gate.community.models import Community

OFFICE_ROLES: tuple[Role, ...] = (Role.OFFICE,)
"""Registry, passes, quarantine, reports, rules, devices (and ADMIN, who passes every check)."""
READ_ROLES: tuple[Role, ...] = (Role.OFFICE, Role.AUDITOR)
"""Read-only office pages: the crossing log, reports, exports, the audit trail."""
GATE_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.VOLUNTEER, Role.OFFICE)
"""The browser gate view."""
OVERRIDE_ROLES: tuple[Role, ...] = (Role.SUPERVISOR,)
"""Letting a refused crossing through with a reason (supervisor override)."""

ROLES_ATTRIBUTE = "checkpoint_roles"
"""Set by :func:`require_role` on the view: the roles it admits (navigation reads it)."""

_View = TypeVar("_View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Account:
    """The logged-in user as the web layer sees it (``flask_login.current_user``)."""

    id: int
    username: str
    display_name: str
    role: Role
    community_id: int
    community_name: str
    timezone: str
    session_version: int

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session version."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        """Whether this account may do what ``roles`` may (ADMIN may do everything)."""
        return has_role(self, *roles)

    @classmethod
    def of(cls, user: User, community: Community) -> Account:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            community_id=user.community_id,
            community_name=community.name,
            timezone=community.timezone,
            session_version=user.session_version or 0,
        )


def has_role(account: Account | None, *roles: Role) -> bool:
    """Whether ``account`` is logged in with one of ``roles`` (any role when none are given;
    ADMIN always)."""
    if account is None:
        return False
    return not roles or account.role is Role.ADMIN or account.role in roles


def current_account() -> Account | None:
    """The logged-in :class:`Account`, or None (anonymous, or outside a request)."""
    from flask import has_request_context

    if not has_request_context():
        return None
    user = cast(Any, current_user)._get_current_object()
    return user if isinstance(user, Account) else None


def current_community_id() -> int:
    """The logged-in user's community id (401 when nobody is logged in)."""
    account = current_account()
    if account is None:
        abort(401)
    return account.community_id


def require_role(*roles: Role) -> Callable[[_View], _View]:
    """Decorate a view: login required, and one of ``roles`` (ADMIN passes every check)."""
    allowed = tuple(roles)

    def decorator(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                return login_required_response()
            if not has_role(account, *allowed):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return cast(_View, wrapper)

    return decorator


def wants_json() -> bool:
    """Whether the caller is a script expecting JSON (``fetch`` with ``Accept: application/json``
    or a JSON body) rather than a browser page."""
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def login_required_response() -> BaseResponse:
    """Redirect to the login page (coming back here after), or 401 JSON for scripts."""
    if wants_json():
        body = {"error": {"code": "login_required", "message": "log in again"}}
        response = jsonify(body)
        response.status_code = 401
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login", next=target))


def configure_auth(app: Flask) -> None:
    """Flask-Login: strong session protection, sessions checked against ``session_version``."""
    manager = LoginManager()
    manager.session_protection = "strong"
    manager.login_view = "accounts.login"
    manager.user_loader(load_account)
    manager.unauthorized_handler(login_required_response)
    # Flask-Login's own identifier reads a client-sent X-Forwarded-For: ours reads the
    # address ProxyFix established (only behind CHECKPOINT_PROXY_COUNT trusted proxies).
    manager._session_identifier_generator = session_identifier
    manager.init_app(app)

    @app.context_processor
    def _auth_context() -> dict[str, object]:
        # Functions, not values: an error page must render even when loading the user fails.
        return {"current_account": current_account, "can": _can, "role_label": role_label}


def session_identifier() -> str:
    """What "strong" session protection compares on each request: a hash of the client's
    address (``request.remote_addr``, never a header the client sends) and user agent."""
    agent = request.headers.get("User-Agent", "")
    base = f"{request.remote_addr}|{agent}"
    return hashlib.sha512(base.encode("utf-8", errors="replace")).hexdigest()


def role_label(role: Role | str) -> str:
    """The role's name in the UI language."""
    from flask_babel import gettext as _

    labels = {
        Role.ADMIN: _("Administrator"),
        Role.OFFICE: _("Office staff"),
        Role.AUDITOR: _("Auditor"),
        Role.SUPERVISOR: _("Gate supervisor"),
        Role.VOLUNTEER: _("Gate volunteer"),
    }
    return str(labels.get(Role(role), role))


def _can(*roles: Role) -> bool:
    return has_role(current_account(), *roles)


def load_account(session_id: str) -> Account | None:
    """Flask-Login's user loader: the account for ``"<id>:<version>"`` if still valid."""
    from gate.web.unit_of_work import db_session

    user_part, _sep, version_part = session_id.partition(":")
    if not (user_part.isdigit() and version_part.isdigit()):
        return None
    row = user_and_community(db_session(), int(user_part))
    if row is None:
        _stale_session()
        return None
    user, community = row
    if user.disabled_at is not None or (user.session_version or 0) != int(version_part):
        _stale_session()
        return None
    return Account.of(user, community)


def _stale_session() -> None:
    # The user was disabled or their sessions ended: forget the login, keep the language.
    session.pop("_user_id", None)
    session.pop("_fresh", None)


def start_session(user: User, community: Community) -> Account:
    """Log ``user`` in: a fresh session (the chosen language survives)."""
    from gate.web.i18n import SESSION_LOCALE_KEY

    locale = session.get(SESSION_LOCALE_KEY)
    session.clear()
    if locale is not None:
        session[SESSION_LOCALE_KEY] = locale
    account = Account.of(user, community)
    login_user(account, remember=False)
    return account


def end_session() -> None:
    """Log out and forget everything in the session but the language."""
    from gate.web.i18n import SESSION_LOCALE_KEY

    locale = session.get(SESSION_LOCALE_KEY)
    logout_user()
    session.clear()
    if locale is not None:
        session[SESSION_LOCALE_KEY] = locale
