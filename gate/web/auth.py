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

from gate.accounts.memberships import DISTRICT_ROLES, Access, accesses
from gate.accounts.models import Role, User
from gate.accounts.operations import user_and_community
from gate.community.models import Community

OFFICE_ROLES: tuple[Role, ...] = (Role.OFFICE,)
"""Registry, passes, quarantine, reports, rules, devices (and ADMIN, who passes every check)."""
READ_ROLES: tuple[Role, ...] = (Role.OFFICE, Role.AUDITOR, *DISTRICT_ROLES)
"""Read-only office pages: the crossing log, reports, exports, the audit trail (the district
roles read them in each of their communities, and write nothing)."""
GATE_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.VOLUNTEER, Role.OFFICE)
"""The browser gate view."""
OVERRIDE_ROLES: tuple[Role, ...] = (Role.SUPERVISOR,)
"""Letting a refused crossing through with a reason (supervisor override)."""

COMMUNITY_KEY = "community"
"""The session key of the community the user chose to work in (absent: the home one)."""

ROLES_ATTRIBUTE = "checkpoint_roles"
"""Set by :func:`require_role` on the view: the roles it admits (navigation reads it)."""

_View = TypeVar("_View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Account:
    """The logged-in user as the web layer sees it (``flask_login.current_user``).

    ``community_id``/``role`` are those of the community the user is working in now: the
    home community, or another one of ``communities`` chosen with the header's switcher
    (kept in the session under :data:`COMMUNITY_KEY`). Every view scopes its queries to
    ``community_id``.
    """

    id: int
    username: str
    display_name: str
    role: Role
    community_id: int
    community_name: str
    timezone: str
    session_version: int
    home_community_id: int = 0
    communities: tuple[Access, ...] = ()

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session version."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        """Whether this account may do what ``roles`` may (ADMIN may do everything)."""
        return has_role(self, *roles)

    @property
    def is_district(self) -> bool:
        """Whether the account may open several communities."""
        return len(self.communities) > 1

    def access(self, community_id: int) -> Access | None:
        """The account's access to ``community_id``, or None."""
        return next((a for a in self.communities if a.community_id == community_id), None)

    @classmethod
    def of(cls, user: User, community: Community) -> Account:
        """The account working in its home community (no other community known)."""
        home = Access(
            community.id, community.name, community.code, community.timezone, user.role, home=True
        )
        return cls.working_in(user, (home,), home)

    @classmethod
    def working_in(cls, user: User, communities: tuple[Access, ...], chosen: Access) -> Account:
        """The account working in ``chosen`` (one of ``communities``)."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=chosen.role,
            community_id=chosen.community_id,
            community_name=chosen.community_name,
            timezone=chosen.timezone,
            session_version=user.session_version or 0,
            home_community_id=user.community_id,
            communities=communities,
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
        Role.DISTRICT_OFFICE: _("District office"),
        Role.DISTRICT_AUDITOR: _("District auditor"),
    }
    return str(labels.get(Role(role), role))


def _can(*roles: Role) -> bool:
    return has_role(current_account(), *roles)


def load_account(session_id: str) -> Account | None:
    """Flask-Login's user loader: the account for ``"<id>:<version>"`` if still valid,
    working in the community chosen in this session (if it may still open it)."""
    from gate.web.unit_of_work import db_session

    user_part, _sep, version_part = session_id.partition(":")
    if not (user_part.isdigit() and version_part.isdigit()):
        return None
    database = db_session()
    row = user_and_community(database, int(user_part))
    if row is None:
        _stale_session()
        return None
    user, _community = row
    if user.disabled_at is not None or (user.session_version or 0) != int(version_part):
        _stale_session()
        return None
    communities = tuple(accesses(database, user))
    chosen_id = session.get(COMMUNITY_KEY)
    chosen = next((a for a in communities if a.community_id == chosen_id), communities[0])
    return Account.working_in(user, communities, chosen)


def choose_community(account: Account, community_id: int) -> bool:
    """Work in ``community_id`` from the next request on (False: the account may not)."""
    if account.access(community_id) is None:
        return False
    session[COMMUNITY_KEY] = community_id
    return True


def _stale_session() -> None:
    # The user was disabled or their sessions ended: forget the login, keep the language.
    session.pop("_user_id", None)
    session.pop("_fresh", None)


def start_session(user: User, community: Community) -> Account:
    """Log ``user`` in: a fresh session in the home ``community`` (the chosen language
    survives)."""
    from gate.web.i18n import SESSION_LOCALE_KEY
    from gate.web.unit_of_work import db_session

    locale = session.get(SESSION_LOCALE_KEY)
    session.clear()
    if locale is not None:
        session[SESSION_LOCALE_KEY] = locale
    communities = tuple(accesses(db_session(), user))
    home = next((a for a in communities if a.home), None)
    account = (
        Account.of(user, community)
        if home is None
        else (Account.working_in(user, communities, home))
    )
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
