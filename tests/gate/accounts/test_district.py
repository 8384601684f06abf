"""A district: accounts granted several communities, the header's switcher, the district
overview's numbers, and a district auditor who reads everywhere and writes nowhere.

Through the real app and the real login form, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import make_community, make_crossing, make_device, make_household, make_rule_set
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import make_app

from gate.accounts.memberships import accesses, community_members, grant, revoke
from gate.accounts.models import Membership, Role, User
from gate.accounts.operations import AccountError, create_user
from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.district.overview import community_figures
from gate.households.decision_state import store_state
from gate.households.models import Household
from passes import HouseholdStatus, RuleSet
from passes.state import HouseholdState

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class District:
    a: Community
    b: Community
    c: Community
    auditor: User
    office_a: User
    sessions: sessionmaker[Session]
    db_url: str
    tmp_path: Path

    def client(self, username: str) -> FlaskClient:
        app = make_app(self.db_url, self.sessions, self.tmp_path)
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        answer = client.post("/login", data={"username": username, "password": PASSWORD})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        return client


def _user(session: Session, community: Community, username: str, role: Role) -> User:
    return create_user(
        session,
        community_id=community.id,
        username=username,
        password=PASSWORD,
        role=role,
        actor="test",
    )


@pytest.fixture
def district(
    db_session: Session, db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> District:
    a = make_community(db_session, name="幸福里社区")
    b = make_community(db_session, name="光明社区")
    c = make_community(db_session, name="别的社区")
    auditor = _user(db_session, a, "jd.audit", Role.DISTRICT_AUDITOR)
    grant(db_session, auditor, b, Role.DISTRICT_AUDITOR, actor="test")
    office_a = _user(db_session, a, "a.office", Role.OFFICE)
    _user(db_session, b, "b.office", Role.OFFICE)
    db_session.commit()
    return District(a, b, c, auditor, office_a, db_session_factory, db_url, tmp_path)


# --- memberships ---------------------------------------------------------------------------------


def test_a_grant_adds_a_community_and_a_revoke_takes_it_away_ending_sessions(
    db_session: Session, district: District
) -> None:
    user = district.office_a
    version = user.session_version
    assert grant(db_session, user, district.b, Role.AUDITOR, actor="test") == "granted"
    assert user.session_version == version + 1
    assert grant(db_session, user, district.b, Role.AUDITOR, actor="test") == "unchanged"
    assert grant(db_session, user, district.b, Role.OFFICE, actor="test") == "changed"
    assert [(a.community_name, a.role, a.home) for a in accesses(db_session, user)] == [
        ("幸福里社区", Role.OFFICE, True),
        ("光明社区", Role.OFFICE, False),
    ]
    members_b = {
        m.user.username: (m.role, m.home) for m in community_members(db_session, district.b.id)
    }
    assert members_b["a.office"] == (Role.OFFICE, False)
    assert revoke(db_session, user, district.b, actor="test") is True
    assert revoke(db_session, user, district.b, actor="test") is False
    with pytest.raises(AccountError) as refused:
        revoke(db_session, user, district.a, actor="test")
    assert refused.value.code == "home_community"
    actions = list(
        db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == "a.office")
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["user.create", "user.grant", "user.grant", "user.revoke"]


def test_a_grant_in_the_home_community_is_a_role_change(
    db_session: Session, district: District
) -> None:
    user = district.office_a
    assert grant(db_session, user, district.a, Role.AUDITOR, actor="test") == "changed"
    assert user.role is Role.AUDITOR
    count = db_session.scalar(
        select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
    )
    assert count == 0


# --- the switcher and read-only access ---------------------------------------------------------


def test_a_district_auditor_sees_both_communities_and_the_switcher_changes_the_community(
    district: District,
) -> None:
    client = district.client("jd.audit")
    landing = client.get("/start")
    assert landing.headers["Location"] == "/district"
    overview = client.get("/district").get_data(as_text=True)
    assert "幸福里社区" in overview
    assert "光明社区" in overview
    assert "别的社区" not in overview
    page = client.get("/log").get_data(as_text=True)
    assert 'id="community-switch"' in page
    assert re.search(rf'<option value="{district.a.id}" selected>', page)
    switched = client.post("/community", data={"community": str(district.b.id), "next": "/log"})
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/log"
    page = client.get("/log").get_data(as_text=True)
    assert re.search(rf'<option value="{district.b.id}" selected>', page)
    # a community the account was not granted changes nothing
    assert client.post("/community", data={"community": str(district.c.id)}).status_code == 403
    assert re.search(
        rf'<option value="{district.b.id}" selected>', client.get("/log").get_data(as_text=True)
    )


def test_a_district_auditor_verifies_and_exports_in_both_communities_and_writes_in_neither(
    db_session: Session, district: District
) -> None:
    households = {
        community.id: make_household(db_session, community=community)
        for community in (district.a, district.b)
    }
    db_session.commit()
    client = district.client("jd.audit")
    for community in (district.a, district.b):
        client.post("/community", data={"community": str(community.id)})
        assert client.get("/log/chain").status_code == 200
        export = client.get("/log/export?fmt=csv")
        assert export.status_code == 200
        export.get_data()
        household = households[community.id]
        writes = {
            "/users": {"username": "intruder", "display_name": "x", "role": "admin"},
            f"/households/{household.code}/status": {
                "action": "quarantine",
                "until": "2099-01-01",
                "reason": "x",
            },
            f"/households/{household.code}/issue": {},
            "/rules": {"rules_json": "{}"},
            "/devices": {"gate": "1", "name": "x"},
            "/users/grant": {"username": "a.office", "role": "admin"},
        }
        for path, form in writes.items():
            answer = client.post(path, data=form)
            assert answer.status_code in (403, 404, 405), (path, answer.status_code)
        for path in ("/households", "/users", "/rules", "/devices", "/passes/print"):
            assert client.get(path).status_code == 403, path
    assert (
        db_session.scalar(select(func.count()).select_from(User).where(User.username == "intruder"))
        == 0
    )
    statuses = set(db_session.scalars(select(Household.status)))
    assert statuses == {HouseholdStatus.NORMAL}
    exports = db_session.scalars(
        select(AuditEvent.community_id).where(
            AuditEvent.action == "crossings.export", AuditEvent.actor == "jd.audit"
        )
    )
    assert sorted(exports) == sorted([district.a.id, district.b.id])


def test_an_admin_grants_and_takes_away_access_on_the_users_page(
    db_session: Session, district: District
) -> None:
    boss = _user(db_session, district.b, "b.admin", Role.ADMIN)
    db_session.commit()
    client = district.client(boss.username)
    answer = client.post("/users/grant", data={"username": "a.office", "role": "auditor"})
    assert answer.status_code == 302
    page = client.get("/users").get_data(as_text=True)
    assert 'data-username="a.office"' in page
    member = client.post(f"/users/{district.office_a.id}/disable")
    assert member.status_code == 302  # refused with a message: not its home community
    db_session.expire_all()
    assert db_session.get(User, district.office_a.id).disabled_at is None  # type: ignore[union-attr]
    assert client.post(f"/users/{district.office_a.id}/revoke").status_code == 302
    assert 'data-username="a.office"' not in client.get("/users").get_data(as_text=True)
    # a user of a community this admin does not run is not found
    stranger = _user(db_session, district.c, "c.office", Role.OFFICE)
    db_session.commit()
    assert client.post(f"/users/{stranger.id}/revoke").status_code == 404
    assert client.post(f"/users/{stranger.id}/role", data={"role": "admin"}).status_code == 404
    db_session.refresh(stranger)
    assert stranger.role is Role.OFFICE


# --- the overview's numbers ----------------------------------------------------------------------


def test_the_overview_counts_out_now_overdue_fevers_refusals_offline_scanners_and_bundle_age(
    db_session: Session, district: District
) -> None:
    community = district.a
    make_rule_set(db_session, community, RuleSet(version=1, max_outside_minutes=60).to_json())
    out_long = make_household(db_session, community=community)
    out_short = make_household(db_session, community=community)
    store_state(out_long, HouseholdState(out_long.id, out_since=(NOW - timedelta(hours=3),)))
    store_state(
        out_short,
        HouseholdState(
            out_short.id, out_since=(NOW - timedelta(minutes=5), NOW - timedelta(minutes=4))
        ),
    )
    working = make_device(db_session, community=community, last_seen_at=NOW - timedelta(minutes=2))
    make_device(db_session, working.gate, last_seen_at=NOW - timedelta(hours=2))
    make_device(db_session, working.gate, token_hash=None)  # not enrolled: not counted
    make_device(db_session, working.gate, revoked_at=NOW)  # revoked: not counted
    make_crossing(
        db_session, working, out_long, allowed=False, code="fever", temperature_tenths=385
    )
    make_crossing(db_session, working, out_short, allowed=False, code="quota")
    make_crossing(db_session, working, out_short, allowed=True)
    make_crossing(
        db_session,
        working,
        out_short,
        allowed=False,
        code="quota",
        scanned_at=NOW - timedelta(days=2),
    )
    db_session.flush()
    figures = community_figures(db_session, community, NOW)
    assert (figures.out_now, figures.overdue, figures.overdue_tracked) == (3, 1, True)
    assert (figures.fevers_today, figures.refusals_today) == (1, 2)
    assert (figures.devices, figures.devices_offline) == (2, 1)
    assert figures.bundle_age == timedelta(hours=2)
    empty = community_figures(db_session, district.b, NOW)
    assert (empty.out_now, empty.overdue, empty.overdue_tracked, empty.devices) == (0, 0, False, 0)
    assert empty.bundle_age is None

    db_session.commit()
    page = district.client("jd.audit").get("/district").get_data(as_text=True)
    row = page.split(f'data-community="{community.code}"')[1].split("</tr>")[0]
    assert re.search(r'data-figure="out_now">3<', row)
    assert 'data-figure="refusals_today">2<' in row
    assert "1 / 2" in row
    assert "2小时" in row


# --- the CLI ------------------------------------------------------------------------------------


def test_users_grant_and_revoke_by_cli(tmp_path: Path, fresh_db_url: str) -> None:
    from gate.cli import _register_commands, cli

    _register_commands()
    env = {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": fresh_db_url,
    }

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    run("db", "upgrade")
    run("community", "create", "--name", "甲社区", "--code", "jia")
    run("community", "create", "--name", "乙社区", "--code", "yi")
    run(
        "users",
        "create",
        "--community",
        "jia",
        "--username",
        "jd",
        "--role",
        "district_auditor",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "上级检查" in run(
        "users", "grant", "--user", "jd", "--community", "yi", "--role", "district_auditor"
    )
    assert "unchanged" in run(
        "users", "grant", "--user", "jd", "--community", "yi", "--role", "district_auditor"
    )
    assert "jd\tdistrict_auditor\tactive\tjd\tgranted" in run("users", "list", "--community", "yi")
    assert "revoked" in run("users", "revoke", "--user", "jd", "--community", "yi")
    refused = run("users", "revoke", "--user", "jd", "--community", "jia", code=1)
    assert "所属的社区" in refused
    assert "jd" not in run("users", "list", "--community", "yi")
    missing = run(
        "users", "grant", "--user", "nobody", "--community", "yi", "--role", "office", code=1
    )
    assert "nobody" in missing
