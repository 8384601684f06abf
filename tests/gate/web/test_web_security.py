"""The web layer: logins over HTTP, roles, sessions, CSRF, headers, languages, error pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from factories import make_community
from flask import Blueprint, Flask, render_template_string, session
from flask.sessions import NullSession
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import csrf_token, log_in, make_app
from werkzeug.test import TestResponse

from gate.accounts.models import Role, User
from gate.accounts.operations import create_user, disable_user, set_password, set_role
from gate.community.models import Community
from gate.web.auth import GATE_ROLES, OFFICE_ROLES, OVERRIDE_ROLES, READ_ROLES, require_role
from gate.web.formatting import format_duration, format_localtime, tenths
from gate.web.security import CONTENT_SECURITY_POLICY, cacheable

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)

PROBES: dict[str, tuple[Role, ...]] = {
    "any": (),
    "office": OFFICE_ROLES,
    "read": READ_ROLES,
    "gate": GATE_ROLES,
    "override": OVERRIDE_ROLES,
    "admin": (Role.ADMIN,),
}
ALLOWED: dict[Role, set[str]] = {
    Role.ADMIN: set(PROBES),
    Role.OFFICE: {"any", "office", "read", "gate"},
    Role.AUDITOR: {"any", "read"},
    Role.SUPERVISOR: {"any", "gate", "override"},
    Role.VOLUNTEER: {"any", "gate"},
    Role.DISTRICT_OFFICE: {"any", "read"},
    Role.DISTRICT_AUDITOR: {"any", "read"},
}


def _probe_blueprint() -> Blueprint:
    probe = Blueprint("probe", __name__, url_prefix="/probe")
    for name, roles in PROBES.items():
        probe.add_url_rule(f"/{name}", name, require_role(*roles)(lambda: "<p>ok</p>"))
    probe.add_url_rule("/cached", "cached", cacheable(3600)(lambda: "<p>pass</p>"))
    probe.add_url_rule(
        "/action", "action", require_role()(lambda: {"done": True}), methods=["POST"]
    )

    def when() -> str:
        moment = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        return render_template_string("{{ t|localtime }} {{ 372|tenths }}", t=moment)

    probe.add_url_rule("/when", "when", when)

    def boom() -> str:
        raise RuntimeError("boom")

    probe.add_url_rule("/boom", "boom", boom)
    return probe


@pytest.fixture
def app(db_url: str, db_session_factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    app = make_app(db_url, db_session_factory, tmp_path)
    app.register_blueprint(_probe_blueprint())
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def home(db_session: Session) -> Community:
    return make_community(db_session, name="幸福里社区")


def _user(session: Session, community: Community, role: Role, username: str) -> User:
    user = create_user(
        session,
        community_id=community.id,
        username=username,
        password=PASSWORD,
        role=role,
        actor="test",
    )
    session.commit()
    return user


# --- logging in --------------------------------------------------------------------------------


def test_login_redirects_to_next_and_shows_the_community(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    response = log_in(client, "li", PASSWORD, next="/probe/office")
    assert response.status_code == 302
    assert response.headers["Location"] == "/probe/office"
    assert client.get("/probe/office").status_code == 200
    page = client.get("/account").get_data(as_text=True)
    assert "幸福里社区" in page


def test_login_refuses_an_off_site_next(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.AUDITOR, "audit")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = log_in(client, "audit", PASSWORD, next=target)
        assert response.status_code == 302
        assert "evil" not in response.headers["Location"]
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})


def test_wrong_password_is_refused_with_a_message(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    response = log_in(client, "li", "not the password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/probe/any").status_code == 302


def test_five_failures_for_a_username_throttle_logins_over_http(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    for _ in range(5):
        assert log_in(client, "li", "wrong password").status_code == 401
    response = log_in(client, "li", PASSWORD)
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)


def test_failures_from_one_address_throttle_that_user_only(
    app: Flask, db_session: Session, home: Community
) -> None:
    # A compound office behind one NAT address: a colleague's typos lock nobody else out.
    _user(db_session, home, Role.OFFICE, "li")
    _user(db_session, home, Role.OFFICE, "wang")
    office = app.test_client()
    office.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(5):
        assert log_in(office, "wang", "wrong password").status_code == 401
    assert log_in(office, "wang", PASSWORD).status_code == 429
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert log_in(colleague, "li", PASSWORD).status_code == 302


def test_an_address_guessing_many_usernames_is_throttled(
    app: Flask, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for n in range(50):
        assert log_in(attacker, f"guess{n}", "wrong password").status_code == 401
    assert log_in(attacker, "li", PASSWORD).status_code == 429
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "192.0.2.20"
    assert log_in(colleague, "li", PASSWORD).status_code == 302


def test_the_throttle_message_shows_the_minutes_left(
    app: Flask, client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    clock = app.extensions["checkpoint"].clock
    start = clock()
    for _ in range(5):
        assert log_in(client, "li", "wrong password").status_code == 401
    app.extensions["checkpoint"].clock = lambda: start + timedelta(minutes=6, seconds=30)
    try:
        response = log_in(client, "li", PASSWORD)
    finally:
        app.extensions["checkpoint"].clock = clock
    assert response.status_code == 429
    assert "请等待 9 分钟" in response.get_data(as_text=True)


def test_disabled_user_cannot_log_in(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    user = _user(db_session, home, Role.OFFICE, "li")
    disable_user(db_session, user, actor="test", now=NOW)
    db_session.commit()
    response = log_in(client, "li", PASSWORD)
    assert response.status_code == 403
    assert "已停用" in response.get_data(as_text=True)


@pytest.mark.parametrize("change", ["disable", "role"])
def test_an_open_session_ends_when_the_user_is_disabled_or_changed(
    client: FlaskClient, db_session: Session, home: Community, change: str
) -> None:
    user = _user(db_session, home, Role.OFFICE, "li")
    log_in(client, "li", PASSWORD)
    assert client.get("/probe/office").status_code == 200
    if change == "disable":
        disable_user(db_session, user, actor="test", now=NOW)
    else:
        set_role(db_session, user, Role.AUDITOR, actor="test")
    db_session.commit()
    response = client.get("/probe/any")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logout_needs_a_post_with_the_token(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    log_in(client, "li", PASSWORD)
    assert client.get("/logout").status_code == 200  # a confirmation page, still logged in
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/probe/any").status_code == 200
    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/probe/any").status_code == 302


def _copy_session(source: FlaskClient, target: FlaskClient) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def test_logout_ends_the_session_on_the_server(
    app: Flask, client: FlaskClient, db_session: Session, home: Community
) -> None:
    # A copy of the cookie taken before logging out (a shared computer, a stolen cookie)
    # opens nothing after it.
    _user(db_session, home, Role.OFFICE, "li")
    assert log_in(client, "li", PASSWORD).status_code == 302
    copy = app.test_client()
    _copy_session(client, copy)
    assert copy.get("/probe/office").status_code == 200
    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replayed = copy.get("/probe/office")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/login")
    assert log_in(client, "li", PASSWORD).status_code == 302  # a new login works
    assert client.get("/probe/office").status_code == 200


def test_a_password_change_ends_every_session_of_the_user(
    app: Flask, db_session: Session, home: Community
) -> None:
    user = _user(db_session, home, Role.OFFICE, "li")
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        assert log_in(browser, "li", PASSWORD).status_code == 302
        assert browser.get("/probe/office").status_code == 200
    set_password(db_session, user, "a different long secret", actor="admin")
    db_session.commit()
    for browser in browsers:
        answer = browser.get("/probe/office")
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/login")


def test_x_forwarded_for_is_not_believed_without_a_configured_proxy(
    app: Flask, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    victim = app.test_client()
    victim.environ_base["REMOTE_ADDR"] = "192.0.2.20"
    assert log_in(victim, "li", PASSWORD).status_code == 302
    thief = app.test_client()
    thief.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    _copy_session(victim, thief)
    # Claiming the victim's address in a header does not pass the session check.
    answer = thief.get("/probe/office", headers={"X-Forwarded-For": "192.0.2.20"})
    assert answer.status_code == 302
    # Nor does it dodge the login throttle: five failures "from five addresses" are one.
    _user(db_session, home, Role.OFFICE, "wang")
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    for n in range(50):
        headers = {"X-Forwarded-For": f"10.1.0.{n}"}
        token = csrf_token(guesser)
        guessed = guesser.post(
            "/login",
            data={"username": f"guess{n}", "password": "wrong", "csrf_token": token},
            headers=headers,
        )
        assert guessed.status_code == 401
    assert log_in(guesser, "wang", PASSWORD).status_code == 429


def test_behind_a_configured_proxy_the_forwarded_address_is_the_client(
    db_url: str,
    db_session_factory: sessionmaker[Session],
    tmp_path: Path,
    db_session: Session,
    home: Community,
) -> None:
    app = make_app(db_url, db_session_factory, tmp_path, CHECKPOINT_PROXY_COUNT="1")
    app.register_blueprint(_probe_blueprint())
    _user(db_session, home, Role.OFFICE, "li")
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # nginx
    nginx = {"X-Forwarded-For": "192.0.2.20"}
    token = csrf_token(browser)
    answer = browser.post(
        "/login",
        data={"username": "li", "password": PASSWORD, "csrf_token": token},
        headers=nginx,
    )
    assert answer.status_code == 302
    assert browser.get("/probe/office", headers=nginx).status_code == 200
    # The same cookie from another client address (as nginx reports it) is refused.
    moved = browser.get("/probe/office", headers={"X-Forwarded-For": "203.0.113.66"})
    assert moved.status_code == 302


# --- roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_require_role_matrix(
    client: FlaskClient, db_session: Session, home: Community, role: Role
) -> None:
    _user(db_session, home, role, f"u-{role.value}")
    assert log_in(client, f"u-{role.value}", PASSWORD).status_code == 302
    statuses = {name: client.get(f"/probe/{name}").status_code for name in PROBES}
    assert statuses == {name: 200 if name in ALLOWED[role] else 403 for name in PROBES}
    forbidden = [name for name in PROBES if name not in ALLOWED[role]]
    if forbidden:
        page = client.get(f"/probe/{forbidden[0]}").get_data(as_text=True)
        assert "无权访问" in page


def test_anonymous_users_are_sent_to_login_and_scripts_get_401(client: FlaskClient) -> None:
    response = client.get("/probe/office?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/probe/office?page%3D2"
    scripted = client.get("/probe/office", headers={"Accept": "application/json"})
    assert scripted.status_code == 401
    assert scripted.get_json()["error"]["code"] == "login_required"


# --- CSRF --------------------------------------------------------------------------------------


def test_login_post_without_csrf_token_is_refused(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    response = client.post("/login", data={"username": "li", "password": PASSWORD})
    assert response.status_code == 400
    assert "表单已失效" in response.get_data(as_text=True)
    assert client.get("/probe/any").status_code == 302


def test_json_posts_need_the_token_in_the_x_csrftoken_header(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.SUPERVISOR, "sup")
    log_in(client, "sup", PASSWORD)
    refused = client.post("/probe/action", json={}, headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf"
    token = csrf_token(client, "/account")
    accepted = client.post("/probe/action", json={}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    assert accepted.get_json() == {"done": True}


def test_the_scanner_api_is_exempt_from_csrf(client: FlaskClient) -> None:
    response = client.post("/api/v1/devices/enroll", json={"code": "nope"})
    assert response.status_code != 400 or response.get_json()["error"]["code"] != "csrf"
    assert response.is_json
    assert "csrf" not in response.get_data(as_text=True).lower()


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/no/such/page", "/api/v1/no/such/route"])
def test_security_headers_and_no_store_on_every_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Permissions-Policy"] == "camera=(self)"
    assert response.headers["Cache-Control"] == "no-store"


def test_cacheable_views_opt_out_of_no_store(client: FlaskClient) -> None:
    response = client.get("/probe/cached")
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_pages_have_no_inline_scripts_or_styles(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "<script>" not in page
    assert " style=" not in page
    assert " onclick=" not in page


def _session_cookie(response: TestResponse) -> str:
    cookies = response.headers.getlist("Set-Cookie")
    return next(cookie for cookie in cookies if cookie.startswith("session="))


def test_session_cookie_flags(client: FlaskClient) -> None:
    cookie = _session_cookie(client.get("/login"))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_production_session_cookie_is_secure(
    db_url: str, db_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    app = make_app(
        db_url,
        db_session_factory,
        tmp_path,
        CHECKPOINT_ENV="production",
        CHECKPOINT_SECRET_KEY="s" * 48,
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    cookie = _session_cookie(app.test_client().get("/login", base_url="https://gate.example"))
    assert "Secure" in cookie


# --- languages and errors ----------------------------------------------------------------------


def test_chinese_by_default_english_from_the_browser_or_the_switch(app: Flask) -> None:
    chinese = app.test_client()
    assert "登录" in chinese.get("/login").get_data(as_text=True)
    browser = app.test_client()
    page = browser.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Log in" in page.get_data(as_text=True)

    switched = chinese.get("/lang/en?next=/login")
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/login"
    assert "Wrong username" not in chinese.get("/login").get_data(as_text=True)
    assert 'lang="en"' in chinese.get("/login").get_data(as_text=True)
    back = chinese.get("/lang/zh_CN?next=//evil.example", headers={"Accept-Language": "en"})
    assert "evil" not in back.headers["Location"]
    assert "登录" in chinese.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert chinese.get("/lang/fr").status_code == 404


def test_the_chosen_language_survives_login(
    client: FlaskClient, db_session: Session, home: Community
) -> None:
    _user(db_session, home, Role.OFFICE, "li")
    client.get("/lang/en")
    log_in(client, "li", PASSWORD)
    assert "My account" in client.get("/account").get_data(as_text=True)


def test_error_pages_speak_the_users_language_and_the_api_json(client: FlaskClient) -> None:
    assert "页面不存在" in client.get("/no/such/page").get_data(as_text=True)
    english = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert english.status_code == 404
    assert "Not found" in english.get_data(as_text=True)
    api = client.get("/api/v1/no/such/route")
    assert api.status_code == 404
    assert api.get_json()["error"]["code"] == "not_found"


def test_server_errors_show_a_page_without_details(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/probe/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "服务器出错了" in page
    assert "boom" not in page


# --- formatting --------------------------------------------------------------------------------


def test_display_formats() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert format_localtime(datetime(2026, 11, 21, 16, 5, tzinfo=UTC), shanghai) == (
        "2026-11-22 00:05"
    )
    assert format_localtime(None, shanghai) == ""
    with pytest.raises(ValueError, match="naive"):
        format_localtime(datetime(2026, 11, 21, 16, 5), shanghai)
    assert [tenths(v) for v in (365, 373, 400, 5, -5, None)] == [
        "36.5",
        "37.3",
        "40.0",
        "0.5",
        "-0.5",
        "",
    ]
    span = timedelta(hours=2, minutes=5, seconds=59)
    assert format_duration(span, chinese=True) == "2小时5分"
    assert format_duration(span, chinese=False) == "2 h 5 min"
    assert format_duration(timedelta(minutes=7), chinese=True) == "7分"
    assert format_duration(timedelta(hours=3), chinese=False) == "3 h"


def test_filters_use_the_users_community_zone(client: FlaskClient, db_session: Session) -> None:
    assert client.get("/probe/when").get_data(as_text=True) == "2026-11-22 20:00 37.2"
    far = make_community(db_session, timezone="America/New_York")
    _user(db_session, far, Role.OFFICE, "ny")
    log_in(client, "ny", PASSWORD)
    assert client.get("/probe/when").get_data(as_text=True) == "2026-11-22 07:00 37.2"


def test_the_translations_of_the_login_and_error_pages_are_complete() -> None:
    from babel.messages.pofile import read_po

    from gate.translations import catalog

    with catalog.po_path("zh_Hans_CN").open("rb") as handle:
        chinese = read_po(handle, locale="zh_Hans_CN")
    owned = ("accounts/", "web/", "templates/accounts/", "templates/errors/", "templates/base")
    mine = [
        message
        for message in catalog.extract_template()
        if message.id and any(path.startswith(owned) for path, _line in message.locations)
    ]
    assert len(mine) > 30
    for message in mine:
        translated = chinese.get(message.id)
        assert translated is not None, message.id
        assert translated.string, message.id
        assert not translated.fuzzy, message.id
    assert not [p for p in catalog.problems() if "out of date" in p]


def test_the_scanner_api_has_no_cookie_session_but_the_pages_do(
    app: Flask, client: FlaskClient, db_session: Session, home: Community
) -> None:
    def session_kind() -> str:
        return "null" if isinstance(session, NullSession) else "cookie"

    app.add_url_rule("/api/v1/probe-session", view_func=session_kind)
    app.add_url_rule("/probe-session", "page_session_kind", view_func=session_kind)
    _user(db_session, home, Role.OFFICE, "clerk")
    logged_in = log_in(client, "clerk", PASSWORD)
    assert "session=" in logged_in.headers.get("Set-Cookie", "")
    assert client.get("/api/v1/probe-session").get_data(as_text=True) == "null"
    api = client.post("/api/v1/scans", json={}, headers={"Authorization": "Bearer nope"})
    assert api.status_code == 401
    assert "Set-Cookie" not in api.headers
    assert client.get("/probe-session").get_data(as_text=True) == "cookie"
    assert client.get("/account").status_code == 200
