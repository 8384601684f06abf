"""Login, logout and the language switch (blueprint ``accounts``). No business rules here:
checking and recording a login attempt are the accounts feature's
:func:`~gate.accounts.operations.check_login`, ``verify_login`` and ``record_login``."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from gate.accounts.firstrun import has_account
from gate.accounts.forms import LoginForm, PasswordChangeForm
from gate.accounts.memberships import DISTRICT_ROLES
from gate.accounts.models import Role
from gate.accounts.operations import (
    AccountError,
    LoginPolicy,
    LoginResult,
    change_own_password,
    check_login,
    check_new_password,
    log_out,
    record_login,
    user_and_community,
    verify_login,
)
from gate.accounts.passwords import MIN_LENGTH, hash_password
from gate.services import services
from gate.web.auth import (
    Account,
    choose_community,
    current_account,
    end_session,
    require_role,
    start_session,
)
from gate.web.i18n import SESSION_LOCALE_KEY
from gate.web.navigation import may_open
from gate.web.unit_of_work import db_session, request_unit, writes

accounts = Blueprint("accounts", __name__)

LANGUAGE_CODES = {"zh_CN": "zh_CN", "zh": "zh_CN", "en": "en"}
GATE_VIEW_ENDPOINTS = ("gateview.screen", "gateview.index", "gateview.gate")


@accounts.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    """The login form; on success, go to ``next`` (a local path) or the user's start page.

    A read-only request: the throttle state and the user are read, the read transaction
    ends, the password is checked (argon2) with no transaction open, and only then is the
    attempt recorded in a short committed write (``write_first``), so a login never holds
    SQLite's write lock while hashing and never makes a scan wait.
    """
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        account = current_account()
        if account is not None:
            return redirect(safe_next(form.next.data) or landing_url(account))
    if not form.validate_on_submit():
        first_run = not has_account(db_session())
        return render_template("accounts/login.html", form=form, error=None, first_run=first_run)
    policy = _login_policy()
    password = form.password.data or ""
    now = services().clock()
    unit = request_unit()
    check = check_login(
        unit.session,
        username=form.username.data or "",
        remote_addr=request.remote_addr,
        now=now,
        policy=policy,
    )
    unit.commit()  # a read-only unit: ends the read transaction before hashing
    if check.wait_seconds:
        result = LoginResult(None, "throttled", check.wait_seconds)
    else:
        verdict = verify_login(check, password)
        result = unit.write_first(
            lambda session: record_login(session, check, verdict, now=now, policy=policy)
        )
    found = None if result.user is None else user_and_community(db_session(), result.user.id)
    if found is None:
        message, status = _refusal_message(result)
        return render_template("accounts/login.html", form=form, error=message), status
    account = start_session(*found)
    return redirect(safe_next(form.next.data) or landing_url(account))


def _login_policy() -> LoginPolicy:
    settings = services().settings
    return LoginPolicy(settings.login_max_failures, settings.login_window_seconds)


def _refusal_message(result: LoginResult) -> tuple[str, int]:
    if result.refusal == "throttled":
        minutes = max(1, math.ceil(result.wait_seconds / 60))
        return (
            _(
                "Too many failed logins for this user or from this computer. "
                "Wait %(minutes)d minutes and try again, or ask the office administrator.",
                minutes=minutes,
            ),
            429,
        )
    if result.refusal == "disabled":
        return _("This account is disabled. Ask the office administrator."), 403
    return _("Wrong username or password."), 401


@accounts.route("/logout", methods=["GET", "POST"])
@writes
def logout() -> BaseResponse | str:
    """POST logs out (CSRF-protected); GET asks to confirm, so a link cannot log anyone out.

    Logging out ends the user's sessions on the server (``session_version``), so a copy of
    the old cookie opens nothing.
    """
    if request.method == "POST":
        account = current_account()
        if account is not None:
            log_out(db_session(), account.id, session_version=account.session_version)
        end_session()
        flash(_("You are logged out."), "info")
        return redirect(url_for("accounts.login"))
    if current_account() is None:
        return redirect(url_for("accounts.login"))
    return render_template("accounts/logout.html")


@accounts.route("/lang/<code>", methods=["GET", "POST"])
def set_language(code: str) -> BaseResponse:
    """Remember the UI language in the session and go back to ``next``."""
    locale = LANGUAGE_CODES.get(code)
    if locale is None:
        abort(404)
    session[SESSION_LOCALE_KEY] = locale
    return redirect(safe_next(request.values.get("next")) or url_for("accounts.home"))


@accounts.get("/account")
@require_role()
def home() -> str:
    """Who is logged in, the pages they may open, and the form to change one's password."""
    return _account_page(PasswordChangeForm(formdata=None), 200)[0]


@accounts.post("/account/password", endpoint="change_password")
@require_role()
def change_password() -> BaseResponse | tuple[str, int]:
    """Change one's own password: the current one, then the new one twice (the policy of
    new passwords). Every error is shown at once; the password fields are never refilled.

    The current password is checked like a login (the work of ``check_login``,
    ``verify_login`` and ``record_login``): a wrong one is recorded as a failed login and
    counts towards the same throttle, so this form guesses no faster than the login page.
    As in the login, argon2 runs with no transaction open and the change is a short
    committed write. The user's other sessions end; this browser stays logged in.
    """
    account = current_account()
    if account is None:  # require_role let nobody anonymous in
        abort(401)
    form = PasswordChangeForm()
    valid = form.validate_on_submit()
    new_password = form.new_password.data or ""
    if new_password and not form.new_password.errors:
        try:
            check_new_password(new_password, username=account.username)
        except AccountError as exc:
            form.new_password.errors = [_(exc.message_id, **exc.params)]
            valid = False
    if form.current_password.errors or not form.current_password.data:
        return _account_page(form, 400)
    now = services().clock()
    policy = _login_policy()
    unit = request_unit()
    check = check_login(
        unit.session,
        username=account.username,
        remote_addr=request.remote_addr,
        now=now,
        policy=policy,
    )
    unit.commit()  # a read-only unit: ends the read transaction before hashing
    if check.wait_seconds:
        message, status = _refusal_message(LoginResult(None, "throttled", check.wait_seconds))
        form.current_password.errors = [message]
        return _account_page(form, status)
    verdict = verify_login(check, form.current_password.data or "")
    if verdict.outcome != "ok":
        unit.write_first(
            lambda session: record_login(session, check, verdict, now=now, policy=policy)
        )
        form.current_password.errors = [_("This is not your current password.")]
        return _account_page(form, 400)
    if not valid:
        return _account_page(form, 400)
    new_hash = hash_password(new_password)
    user = unit.write_first(lambda session: change_own_password(session, check, new_hash))
    found = None if user is None else user_and_community(db_session(), user.id)
    if found is None:
        form.current_password.errors = [_("This is not your current password.")]
        return _account_page(form, 409)
    renewed = start_session(*found)
    choose_community(renewed, account.community_id)  # keep working where the user was
    flash(
        _(
            "Your password is changed. Wherever else you were logged in, "
            "you must log in again with the new password."
        ),
        "success",
    )
    return redirect(url_for("accounts.home"))


def _account_page(form: PasswordChangeForm, status: int) -> tuple[str, int]:
    for field in (form.current_password, form.new_password, form.new_password_again):
        field.data = ""
    page = render_template("accounts/home.html", password_form=form, min_password_length=MIN_LENGTH)
    return page, status


@accounts.post("/community", endpoint="switch_community")
@require_role()
def switch_community() -> BaseResponse:
    """Work in another of the account's communities (the header's switcher), then go to
    ``next`` or the start page. A community the account may not open changes nothing (403).
    """
    account = current_account()
    raw = request.form.get("community", "")
    if account is None or not raw.isdigit() or not choose_community(account, int(raw)):
        abort(403)
    chosen = account.access(int(raw))
    if chosen is not None:
        flash(_("You are now working in %(name)s.", name=chosen.community_name), "info")
    target = safe_next(request.form.get("next"))
    return redirect(target or url_for("accounts.home_redirect"))


@accounts.get("/start", endpoint="home_redirect")
@require_role()
def home_redirect() -> BaseResponse:
    """The start page of the account in the community it works in now."""
    account = current_account()
    if account is None:  # require_role let nobody anonymous in
        abort(401)
    return redirect(landing_url(account))


def landing_url(account: Account) -> str:
    """Where a user starts: the district overview for a district's roles, the gate view for
    gate staff (supervisor, volunteer), the console dashboard for the office, else the
    account page (only pages the user may open)."""
    candidates: tuple[str, ...] = ("console.dashboard", *GATE_VIEW_ENDPOINTS)
    if account.role in (Role.SUPERVISOR, Role.VOLUNTEER):
        candidates = (*GATE_VIEW_ENDPOINTS, "console.dashboard")
    elif account.role in DISTRICT_ROLES or (account.is_district and account.role is Role.ADMIN):
        candidates = ("console.district", *candidates)
    for endpoint in candidates:
        if may_open(account, endpoint):
            return url_for(endpoint)
    return url_for("accounts.home")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no scheme, no host, no ``//``), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target
