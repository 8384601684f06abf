"""The web UI's security as a whole, over every route the app registers.

- every unsafe route (POST/PUT/PATCH/DELETE) outside the scanner API refuses a request
  without a valid CSRF token, and changes nothing;
- a role x GET-route matrix stated as an explicit table, checked against ``app.url_map`` so a
  new route cannot slip in unlisted;
- a user of community A gets 404 for community B's household, pass card, crossing, device and
  user (on SQLite and PostgreSQL), and a log filter or export by B's household code shows
  nothing of B;
- login throttling after five failures;
- no GET changes data: crawling every GET route leaves every table as it was (exports append
  their audit event, by design).

The compound is the demo's (``gate.demo.build_demo``, small counts) with a resident link and
rotating screen codes turned on, plus a community B built from the factories.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories import make_building, make_crossing, make_device, make_pass
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from web_helpers import csrf_token, log_in
from werkzeug.test import TestResponse

from gate.accounts.models import LoginAttempt, Role, User
from gate.accounts.operations import create_user
from gate.app import create_app
from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.crossings.models import Crossing
from gate.db import make_engine, transaction
from gate.demo import build_demo
from gate.devices.models import Device
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import current_pass
from gate.issuing.resident_links import issue_resident_link
from gate.migrations import upgrade
from gate.models import metadata
from gate.settings import Settings

ROLES = (Role.ADMIN, Role.OFFICE, Role.AUDITOR, Role.SUPERVISOR, Role.VOLUNTEER)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OTHER_PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class OtherCommunity:
    """Community B's rows, by id or code."""

    household_code: str
    pass_id: int
    crossing_id: int
    device_id: int
    user_id: int


@dataclass(frozen=True)
class Seeded:
    """A served demo compound (community A) and community B."""

    app: Flask
    engine: Engine
    passwords: dict[Role, str]
    """Login of each role: the username is the role's value."""
    household_code: str
    pass_id: int
    crossing_id: int
    device_id: int
    user_id: int
    resident_token: str
    other: OtherCommunity

    def client(self, role: Role | None = None) -> FlaskClient:
        client = self.app.test_client()
        if role is not None:
            answer = log_in(client, role.value, self.passwords[role])
            assert answer.status_code == 302, answer.get_data(as_text=True)
        return client

    def url_values(self) -> dict[str, str]:
        """What every URL parameter of the app is filled with (community A's rows)."""
        return {
            "code": self.household_code,
            "pass_id": str(self.pass_id),
            "crossing_id": str(self.crossing_id),
            "device_id": str(self.device_id),
            "user_id": str(self.user_id),
            "token": self.resident_token,
            "filename": "css/app.css",
            "gate_id": "1",
            "level": "area",
            "place_id": "1",
            "row_id": "1",
            "vehicle_id": "1",
            "errand_id": "1",
            "shift_id": "1",
            "assignment_id": "1",
            "lock_id": "1",
        }


def seed(database_url: str, instance_dir: Path) -> Seeded:
    """The demo compound in the migrated database at ``database_url``, and community B."""
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(instance_dir),
            "CHECKPOINT_DATABASE_URL": database_url,
        }
    )
    app = create_app({"TESTING": True}, settings=settings)
    services = app.extensions["checkpoint"]
    now = datetime.now(UTC)
    with transaction(services.sessions) as session:
        summary = build_demo(session, keys_dir=settings.keys_dir, now=now, households=12, days=1)
        home = session.get_one(Community, summary.community_id)
        home.rotating_codes_enabled = True
        household = session.scalars(
            select(Household)
            .where(Household.community_id == home.id)
            .order_by(Household.code)
            .limit(1)
        ).one()
        issued = current_pass(session, household)
        assert issued is not None
        token = issue_resident_link(session, issued, actor="test", now=now)
        crossing_id = session.scalars(
            select(Crossing.id).where(Crossing.community_id == home.id).limit(1)
        ).one()
        device_id = session.scalars(
            select(Device.id).join(Device.gate).where(Device.gate.has(community_id=home.id))
        ).first()
        volunteer_id = session.scalars(select(User.id).where(User.username == "volunteer")).one()
        other = _other_community(session)
        seeded_ids = (household.code, issued.id, crossing_id, device_id, volunteer_id)
    assert seeded_ids[3] is not None
    return Seeded(
        app=app,
        engine=services.engine,
        passwords={login.role: login.password for login in summary.logins},
        household_code=seeded_ids[0],
        pass_id=seeded_ids[1],
        crossing_id=seeded_ids[2],
        device_id=int(seeded_ids[3]),
        user_id=seeded_ids[4],
        resident_token=token,
        other=other,
    )


def _other_community(session: object) -> OtherCommunity:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    b = Community(id=secrets.randbelow(2**30) + 1, name="乙社区", code=f"b{secrets.token_hex(3)}")
    session.add(b)
    session.flush()
    household = Household(
        id=secrets.randbelow(2**31 - 10_000) + 10_000,
        community_id=b.id,
        building=make_building(session, b),
        code="B-1-101",
        room="101",
    )
    session.add(household)
    session.flush()
    issued = make_pass(session, household)
    device = make_device(session, community=b)
    crossing = make_crossing(session, device, household, conflict=True, offline=True)
    user = create_user(
        session,
        community_id=b.id,
        username="b-office",
        password=OTHER_PASSWORD,
        role=Role.OFFICE,
        actor="test",
    )
    return OtherCommunity(household.code, issued.id, crossing.id, device.id, user.id)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The compound on a SQLite file of its own (the matrix needs no PostgreSQL run)."""
    directory = tmp_path_factory.mktemp("matrix")
    url = f"sqlite:///{directory / 'matrix.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    built = seed(url, directory)
    try:
        yield built
    finally:
        built.engine.dispose()


@pytest.fixture(scope="module")
def clients(seeded: Seeded) -> dict[Role | None, FlaskClient]:
    """A logged-in browser per role, and an anonymous one (None)."""
    found: dict[Role | None, FlaskClient] = {role: seeded.client(role) for role in ROLES}
    found[None] = seeded.client()
    return found


def fill(rule: str, values: dict[str, str]) -> str:
    """``rule`` (``/households/<code>/passes/<int:pass_id>``) with its parameters filled."""
    path = rule
    for name, value in values.items():
        for converter in ("", "int:", "path:"):
            path = path.replace(f"<{converter}{name}>", value)
    assert "<" not in path, f"no value for a parameter of {rule}"
    return path


def fetch(client: FlaskClient, path: str) -> TestResponse:
    """GET ``path``, read the whole body (streamed exports too) and close the response."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


# --- (a) CSRF on every unsafe route ------------------------------------------------------------


def unsafe_rules(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) of every unsafe route outside the scanner API."""
    return sorted(
        (rule.endpoint, rule.rule, method)
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("api.")
        for method in sorted((rule.methods or set()) & UNSAFE)
    )


def test_every_unsafe_route_refuses_a_request_without_a_csrf_token(
    seeded: Seeded, clients: dict[Role | None, FlaskClient]
) -> None:
    assert seeded.app.config.get("WTF_CSRF_ENABLED", True)
    admin = clients[Role.ADMIN]
    routes = unsafe_rules(seeded.app)
    endpoints = {endpoint for endpoint, _rule, _method in routes}
    assert {"accounts.login", "accounts.logout", "gateview.scan", "console.user_create"} <= (
        endpoints
    )
    before = database_digest(seeded.engine)
    for endpoint, rule, method in routes:
        path = fill(rule, {**seeded.url_values(), "code": seeded.household_code})
        if endpoint == "accounts.set_language":
            path = fill(rule, {"code": "en"})
        for attempt in (
            {"data": {"reason": "x", "note": "x", "until": "2099-01-01", "action": "normal"}},
            {"data": {"csrf_token": "forged-token", "reason": "x", "action": "normal"}},
            {"json": {"pass": "CP1:x", "direction": "out"}},
            {"json": {}, "headers": {"X-CSRFToken": "forged-token"}},
        ):
            response = admin.open(path, method=method, **attempt)  # type: ignore[arg-type]
            response.close()
            assert response.status_code == 400, (method, path, attempt, response.status_code)
    assert database_digest(seeded.engine) == before
    assert fetch(admin, "/users").status_code == 200  # still logged in: the logout was refused


# --- (b) the role x route matrix ---------------------------------------------------------------

LOGIN = "login"
"""302 to /login?next=... (not logged in)."""
REDIRECT = 302
COLUMNS = (None, *ROLES)
"""Order of the expected table's columns: anonymous, admin, office, auditor, supervisor,
volunteer."""

GET_PATHS: dict[str, str] = {
    "console.dashboard": "/",
    "accounts.home": "/account",
    "console.households": "/households",
    "console.household": "/households/{code}",
    "console.household_edit": "/households/{code}/edit",
    "console.household_new": "/households/new",
    "console.households_import": "/households/import",
    "console.households_import_template": "/households/import/template",
    "console.households_import_bad_rows": f"/households/import/{'0' * 32}/bad-rows.xlsx",
    "console.households_import_job": f"/households/import/{'0' * 32}/job",
    "console.household_card": "/households/{code}/passes/{pass_id}/card.png",
    "console.passes": "/passes/print",
    "console.rules": "/rules",
    "console.devices": "/devices",
    "console.site": "/site",
    "console.log": "/log",
    "console.log_conflicts": "/log/conflicts",
    "console.log_chain": "/log/chain",
    "console.privacy": "/privacy",
    "console.log_export": "/log/export?fmt=csv",
    "console.audit_trail": "/audit",
    "console.users": "/users",
    "console.supervisor_cards": "/supervisor-cards",
    "console.vehicles": "/vehicles",
    "console.visitors": "/visitors",
    "console.visitor_pass": "/visitors/999999",
    "console.visitor_pass_qr": "/visitors/999999/qr.png",
    "console.errands": "/errands",
    "console.my_errands": "/errands/mine",
    "console.errands_export": "/errands/export.xlsx",
    "console.roster": "/roster",
    "console.zones": "/zones",
    "gateview.screen": "/gate",
    "gateview.bundle": "/gate/bundle",
    "gateview.chooser": "/gate/choose",
    "gateview.manifest": "/gate/manifest.webmanifest",
    "gateview.service_worker": "/gate/sw.js",
    "accounts.login": "/login",
    "accounts.logout": "/logout",
    "accounts.set_language": "/lang/zh_CN?next=/account",
    "resident.page": "/p/{token}",
    "resident.status": "/p/{token}/status",
    "resident.code": "/p/{token}/code",
    "resident.errands": "/p/{token}/errands",
    "resident.service_worker": "/p/sw.js",
    "static": "/static/css/app.css",
    "api.bundle": "/api/v1/bundle",
    "trust.ca_page": "/ca",
    "trust.ca_certificate": "/ca/checkpoint-ca.crt",
    "trust.ca_profile": "/ca/checkpoint-ca.mobileconfig",
    "console.district": "/district",
    "accounts.home_redirect": "/start",
    "firstrun.start": "/setup/not-a-real-token",
    "firstrun.gate": "/setup/gate",
    "firstrun.rules": "/setup/rules",
    "firstrun.done": "/setup/done",
}
"""Every GET route of the app, with its parameters filled from community A's rows."""

# fmt: off
EXPECTED: dict[str, tuple[int | str, ...]] = {
    #                             anon   admin office auditor superv volunteer
    "console.dashboard":          (LOGIN, 200, 200, 200, 403, 403),
    "accounts.home":              (LOGIN, 200, 200, 200, 200, 200),
    "console.households":         (LOGIN, 200, 200, 403, 403, 403),
    "console.household":          (LOGIN, 200, 200, 403, 403, 403),
    "console.household_edit":     (LOGIN, 200, 200, 403, 403, 403),
    "console.household_new":      (LOGIN, 200, 200, 403, 403, 403),
    "console.households_import":  (LOGIN, 200, 200, 403, 403, 403),
    "console.households_import_template": (LOGIN, 200, 200, 403, 403, 403),
    "console.households_import_bad_rows": (LOGIN, 404, 404, 403, 403, 403),  # no such upload
    "console.households_import_job": (LOGIN, 302, 302, 403, 403, 403),  # expired: the form
    "console.household_card":     (LOGIN, 200, 200, 403, 403, 403),
    "console.passes":             (LOGIN, 200, 200, 403, 403, 403),
    "console.rules":              (LOGIN, 200, 200, 403, 403, 403),
    "console.devices":            (LOGIN, 200, 200, 403, 403, 403),
    "console.site":               (LOGIN, 200, 200, 403, 403, 403),
    "console.log":                (LOGIN, 200, 200, 200, 403, 403),
    "console.log_conflicts":      (LOGIN, 200, 200, 200, 403, 403),
    "console.log_chain":          (LOGIN, 200, 200, 200, 403, 403),
    "console.privacy":            (LOGIN, 200, 200, 200, 403, 403),
    "console.log_export":         (LOGIN, 200, 200, 200, 403, 403),
    "console.audit_trail":        (LOGIN, 200, 200, 200, 403, 403),
    "console.users":              (LOGIN, 200, 403, 403, 403, 403),
    "console.supervisor_cards":   (LOGIN, 200, 200, 403, 403, 403),
    "console.vehicles":           (LOGIN, 200, 200, 403, 403, 403),
    "console.visitors":           (LOGIN, 200, 200, 403, 403, 403),
    # no such visitor pass here: the office gets 404, every other role 403 first
    "console.visitor_pass":       (LOGIN, 404, 404, 403, 403, 403),
    "console.visitor_pass_qr":    (LOGIN, 404, 404, 403, 403, 403),
    # errands: a grid worker (supervisor) asks for them too; a volunteer has only their own
    "console.errands":            (LOGIN, 200, 200, 200, 200, 403),
    "console.my_errands":         (LOGIN, 200, 403, 403, 200, 200),
    "console.errands_export":     (LOGIN, 200, 200, 200, 200, 403),
    "console.roster":             (LOGIN, 200, 200, 200, 403, 403),
    "console.zones":              (LOGIN, 200, 200, 403, 403, 403),
    "gateview.screen":            (LOGIN, 200, 200, 403, 200, 200),
    "gateview.bundle":            (LOGIN, 200, 200, 403, 200, 200),
    "gateview.chooser":           (LOGIN, 200, 200, 403, 200, 200),
    # the phone gate's shell: no data in it, installable before logging in
    "gateview.manifest":          (200,   200, 200, 200, 200, 200),
    "gateview.service_worker":    (200,   200, 200, 200, 200, 200),
    "accounts.login":             (200,   302, 302, 302, 302, 302),
    "accounts.logout":            (302,   200, 200, 200, 200, 200),
    "accounts.set_language":      (302,   302, 302, 302, 302, 302),
    "resident.page":              (200,   200, 200, 200, 200, 200),
    "resident.status":            (200,   200, 200, 200, 200, 200),
    "resident.code":              (200,   200, 200, 200, 200, 200),
    "resident.errands":           (200,   200, 200, 200, 200, 200),
    "resident.service_worker":    (200,   200, 200, 200, 200, 200),
    "static":                     (200,   200, 200, 200, 200, 200),
    # the scanner API takes bearer tokens only: a browser session is not a scanner
    "api.bundle":                 (401,   401, 401, 401, 401, 401),
    # the CA page needs no login; this server was never started with --tls: nothing to trust
    "trust.ca_page":              (404,   404, 404, 404, 404, 404),
    "trust.ca_certificate":       (404,   404, 404, 404, 404, 404),
    "trust.ca_profile":           (404,   404, 404, 404, 404, 404),
    # the district overview: district roles (none here) and the administrator
    "console.district":           (LOGIN, 200, 403, 403, 403, 403),
    "accounts.home_redirect":     (LOGIN, 302, 302, 302, 302, 302),
    # accounts exist: every setup link is gone for good
    "firstrun.start":             (410,   410, 410, 410, 410, 410),
    "firstrun.gate":              (LOGIN, 200, 403, 403, 403, 403),
    "firstrun.rules":             (LOGIN, 200, 403, 403, 403, 403),
    "firstrun.done":              (LOGIN, 200, 403, 403, 403, 403),
}
# fmt: on


def test_the_matrix_lists_every_get_route(seeded: Seeded) -> None:
    registered = {
        rule.endpoint
        for rule in seeded.app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
    }
    assert set(GET_PATHS) == set(EXPECTED) == registered


def test_each_role_gets_exactly_its_status_on_every_get_route(
    seeded: Seeded, clients: dict[Role | None, FlaskClient]
) -> None:
    values = seeded.url_values()
    wrong: list[str] = []
    for endpoint, expected in EXPECTED.items():
        path = GET_PATHS[endpoint].format(**values)
        for role, want in zip(COLUMNS, expected, strict=True):
            response = fetch(clients[role], path)
            got: int | str = response.status_code
            if want == LOGIN and got == REDIRECT:
                location = response.headers["Location"]
                got = LOGIN if location.startswith("/login?next=") else location
            if got != want:
                who = role.value if role else "anonymous"
                wrong.append(f"{endpoint} as {who}: expected {want}, got {got}")
    assert wrong == []


# --- (c) another community's rows are not found ------------------------------------------------


@pytest.fixture
def two_communities(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Seeded]:
    """The compound and community B on this run's SQLite and PostgreSQL databases."""
    built = seed(db_url, tmp_path)
    try:
        yield built
    finally:
        built.engine.dispose()


def test_another_communitys_rows_answer_404(two_communities: Seeded) -> None:
    seeded, other = two_communities, two_communities.other
    office, admin = seeded.client(Role.OFFICE), seeded.client(Role.ADMIN)
    b_code, b_pass = other.household_code, other.pass_id
    for path in (
        f"/households/{b_code}",
        f"/households/{b_code}/edit",
        f"/households/{b_code}/passes/{b_pass}/card.png",
        f"/households/{seeded.household_code}/passes/{b_pass}/card.png",
    ):
        assert fetch(office, path).status_code == 404, path
    token = csrf_token(office, "/households")
    posts = [
        (office, f"/households/{b_code}/status", {"action": "normal", "reason": "x"}),
        (office, f"/households/{b_code}/passes", {"valid_days": "30"}),
        (office, f"/households/{b_code}/passes/{b_pass}/revoke", {"reason": "lost"}),
        (office, f"/households/{seeded.household_code}/passes/{b_pass}/revoke", {"reason": "x"}),
        (office, f"/log/conflicts/{other.crossing_id}/review", {"note": "checked"}),
        (office, f"/devices/{other.device_id}/revoke", {"reason": "stolen"}),
        (admin, f"/users/{other.user_id}/disable", {"reason": "x"}),
        (admin, f"/users/{other.user_id}/role", {"role": "volunteer"}),
    ]
    admin_token = csrf_token(admin, "/users")
    for client, path, form in posts:
        csrf = admin_token if client is admin else token
        response = client.post(path, data={**form, "csrf_token": csrf})
        response.close()
        assert response.status_code == 404, (path, response.status_code)
    with transaction(seeded.app.extensions["checkpoint"].sessions, read_only=True) as session:
        assert session.get_one(IssuedPass, b_pass).status is PassStatus.ACTIVE
        assert session.get_one(Crossing, other.crossing_id).conflict_reviewed_at is None
        assert session.get_one(Device, other.device_id).revoked_at is None
        b_user = session.get_one(User, other.user_id)
        assert (b_user.disabled_at, b_user.role) == (None, Role.OFFICE)


def test_a_log_filter_or_export_by_another_communitys_code_shows_nothing_of_it(
    two_communities: Seeded,
) -> None:
    """A filter by household code is a search, not a lookup: B's code answers exactly like a
    code that exists nowhere (no rows), so it does not even reveal that B's household exists."""
    seeded, b_code = two_communities, two_communities.other.household_code
    office = seeded.client(Role.OFFICE)
    nowhere = "Z-9-999"
    for fmt in ("csv",):
        b_export = fetch(office, f"/log/export?fmt={fmt}&household={b_code}")
        none_export = fetch(office, f"/log/export?fmt={fmt}&household={nowhere}")
        assert b_export.status_code == none_export.status_code == 200
        assert b_export.get_data() == none_export.get_data()
        lines = b_export.get_data(as_text=True).strip().splitlines()
        assert len(lines) == 1  # the header row only
    b_page = fetch(office, f"/log?household={b_code}").get_data(as_text=True)
    none_page = fetch(office, f"/log?household={nowhere}").get_data(as_text=True)
    assert b_page.replace(b_code, nowhere) == none_page.replace(
        csrf_value(none_page), csrf_value(b_page)
    )
    everything = fetch(office, "/log").get_data(as_text=True)
    assert b_code not in everything
    full_export = fetch(office, "/log/export?fmt=csv").get_data(as_text=True)
    assert b_code not in full_export
    assert seeded.household_code.split("-")[0] in full_export  # A's own rows are there


def csrf_value(page: str) -> str:
    marker = '<meta name="csrf-token" content="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


# --- (d) login throttling ----------------------------------------------------------------------


def test_logins_are_throttled_after_five_failures(seeded: Seeded) -> None:
    with transaction(seeded.app.extensions["checkpoint"].sessions) as session:
        create_user(
            session,
            community_id=session.scalars(select(Community.id).order_by(Community.id)).first() or 0,
            username="throttle.me",
            password=OTHER_PASSWORD,
            role=Role.AUDITOR,
            actor="test",
        )
    attacker = seeded.app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for attempt in range(5):
        assert log_in(attacker, "throttle.me", f"wrong {attempt}").status_code == 401
    refused = log_in(attacker, "throttle.me", OTHER_PASSWORD)
    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.get_data(as_text=True)
    elsewhere = seeded.app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert log_in(elsewhere, "throttle.me", OTHER_PASSWORD).status_code == 429  # per username
    with seeded.engine.connect() as connection:
        recorded = connection.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.username == "throttle.me")
        )
    assert recorded == 5  # refused attempts are not recorded: the lock-out cannot be extended

    guesser = seeded.app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.99"
    for attempt in range(50):  # per address: ten times the per-username limit (a NAT office)
        assert log_in(guesser, f"guess{attempt}", "wrong").status_code == 401
    assert log_in(guesser, "auditor", seeded.passwords[Role.AUDITOR]).status_code == 429
    colleague = seeded.app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "192.0.2.45"
    assert log_in(colleague, "auditor", seeded.passwords[Role.AUDITOR]).status_code == 302


# --- (e) no GET changes data -------------------------------------------------------------------

UNCHANGED_BY_DESIGN = "audit_events"
"""Exports are audited: each GET /log/export appends one ``crossings.export`` event. Every
other table, ``login_attempts`` included (GET /login records nothing), must not change."""


def database_digest(engine: Engine, *, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Per table: row count and a SHA-256 of every row, in primary-key order."""
    digest: dict[str, str] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            content = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
            digest[table.name] = f"{len(rows)}:{content}"
    return digest


def _audit_rows(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        return [
            (row.id, row.action)
            for row in connection.execute(
                select(AuditEvent.id, AuditEvent.action).order_by(AuditEvent.id)
            )
        ]


CRAWL_EXTRAS = (
    "/households?q=1&area=1&grid=1&building=1",
    "/log?direction=out&verdict=refused&fever=y&offline=y&conflict=y&household=1-1-101",
    "/log?date_from=2020-01-01&date_to=2030-12-31&after=bogus",
    "/log/export?fmt=xlsx",
    "/audit?actor=demo&action=pass.issue",
    "/lang/en?next=/rules",
    "/lang/zh_CN?next=/rules",
)


def test_no_get_request_changes_any_table(
    seeded: Seeded, clients: dict[Role | None, FlaskClient]
) -> None:
    admin = clients[Role.ADMIN]
    before = database_digest(seeded.engine, skip=frozenset({UNCHANGED_BY_DESIGN}))
    audit_before = _audit_rows(seeded.engine)
    values = seeded.url_values()
    paths = [template.format(**values) for template in GET_PATHS.values()]
    paths += list(CRAWL_EXTRAS)
    exports = cards = errand_exports = 0
    for client in (admin, clients[None]):
        for path in paths:
            response = fetch(client, path)
            assert response.status_code < 500, path
            if path.startswith("/log/export") and response.status_code == 200:
                exports += 1
            if path.endswith("/card.png") and response.status_code == 200:
                cards += 1  # a card download is recorded (pass.card), like the CLI's
            if path.startswith("/errands/export") and response.status_code == 200:
                errand_exports += 1  # the errand list's export is audited too
    assert database_digest(seeded.engine, skip=frozenset({UNCHANGED_BY_DESIGN})) == before
    audit_after = _audit_rows(seeded.engine)
    assert audit_after[: len(audit_before)] == audit_before
    added = audit_after[len(audit_before) :]
    assert sorted(action for _id, action in added) == sorted(
        ["crossings.export"] * exports + ["pass.card"] * cards + ["errand.export"] * errand_exports
    )
    assert (exports, cards) == (2, 1)
