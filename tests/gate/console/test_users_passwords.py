"""Passwords in the browser: an administrator gives a user who forgot theirs a new generated
one on /users (shown once, audited, the user's sessions end), and every user changes their
own on /account (current password checked and throttled like a login, the policy, audited)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from gate.accounts.models import LoginAttempt, Role, User
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.db import transaction

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "purple-otter-lantern"


@dataclass
class Site:
    compound: Compound
    ids: dict[str, int]

    def client(self, username: str | None = None, password: str = PASSWORD) -> FlaskClient:
        self.compound.app.config["WTF_CSRF_ENABLED"] = False
        client = self.compound.app.test_client()
        client.get("/lang/en")  # the messages asserted are the English msgids
        if username is not None:
            answer = client.post("/login", data={"username": username, "password": password})
            assert answer.status_code == 302, answer.get_data(as_text=True)
        return client

    def user(self, username: str) -> User:
        with transaction(self.compound.sessions, read_only=True) as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            session.expunge(user)
            return user

    def events(self, action: str) -> list[tuple[str, str | None]]:
        with transaction(self.compound.sessions, read_only=True) as session:
            rows = session.execute(
                select(AuditEvent.actor, AuditEvent.subject_id)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
            return [(row[0], row[1]) for row in rows]

    def failures(self, username: str) -> int:
        with transaction(self.compound.sessions, read_only=True) as session:
            rows = session.scalars(
                select(LoginAttempt.id).where(
                    LoginAttempt.username == username, LoginAttempt.success.is_(False)
                )
            )
            return len(list(rows))


@pytest.fixture
def site(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Site]:
    compound = build_compound(db_url, tmp_path, households=1)
    ids: dict[str, int] = {}
    with transaction(compound.sessions) as session:
        for username, role in (("p-admin", Role.ADMIN), ("p-clerk", Role.OFFICE)):
            user = create_user(
                session,
                community_id=compound.community_id,
                username=username,
                password=PASSWORD,
                role=role,
                actor="test",
            )
            ids[username] = user.id
        other = Community(
            id=secrets.randbelow(2**31 - 1) + 1, name="乙社区", code=f"b{secrets.token_hex(3)}"
        )
        session.add(other)
        session.flush()
        ids["b-clerk"] = create_user(
            session,
            community_id=other.id,
            username="pb-clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        ).id
    try:
        yield Site(compound, ids)
    finally:
        compound.dispose()


def test_users_page_offers_a_new_password_for_each_other_user(site: Site) -> None:
    html = site.client("p-admin").get("/users").get_data(as_text=True)
    assert f'action="/users/{site.ids["p-clerk"]}/password"' in html
    assert f'action="/users/{site.ids["p-admin"]}/password"' not in html  # not oneself


def test_admin_sets_a_new_password_shown_once_audited_and_the_user_logged_out(
    site: Site,
) -> None:
    admin = site.client("p-admin")
    clerk = site.client("p-clerk")
    answer = admin.post(f"/users/{site.ids['p-clerk']}/password")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    new = html.split('id="new-password">')[1].split("<")[0]
    assert len(new) >= 10
    assert new not in admin.get("/users").get_data(as_text=True)  # shown once
    assert clerk.get("/households").status_code == 302  # the clerk's session ended
    assert (
        site.client().post("/login", data={"username": "p-clerk", "password": PASSWORD}).status_code
        == 401
    )
    site.client("p-clerk", new)
    assert site.events("user.password") == [("p-admin", "p-clerk")]


def test_admin_cannot_set_a_password_here_for_themselves_or_another_community(
    site: Site,
) -> None:
    admin = site.client("p-admin")
    before = site.user("p-admin").password_hash
    assert admin.post(f"/users/{site.ids['p-admin']}/password").status_code == 302
    assert site.user("p-admin").password_hash == before
    assert admin.post(f"/users/{site.ids['b-clerk']}/password").status_code == 404
    assert site.client("p-clerk").post(f"/users/{site.ids['p-admin']}/password").status_code == 403
    assert site.events("user.password") == []


def test_setting_a_password_needs_the_csrf_token(site: Site) -> None:
    admin = site.client("p-admin")
    site.compound.app.config["WTF_CSRF_ENABLED"] = True
    assert admin.post(f"/users/{site.ids['p-clerk']}/password").status_code == 400
    assert admin.post("/account/password", data={}).status_code == 400
    assert site.events("user.password") == []


def _change(client: FlaskClient, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
        },
    )


def test_account_page_has_the_change_password_form(site: Site) -> None:
    html = site.client("p-clerk").get("/account").get_data(as_text=True)
    assert 'action="/account/password"' in html
    assert 'name="current_password"' in html
    assert 'name="new_password_again"' in html


def test_a_user_changes_their_password_other_sessions_end_this_one_stays(site: Site) -> None:
    here = site.client("p-clerk")
    elsewhere = site.client("p-clerk")
    answer = _change(here, PASSWORD, NEW_PASSWORD)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/account")
    assert here.get("/households").status_code == 200
    assert elsewhere.get("/households").status_code == 302
    site.client("p-clerk", NEW_PASSWORD)
    assert (
        site.client().post("/login", data={"username": "p-clerk", "password": PASSWORD}).status_code
        == 401
    )
    assert site.events("user.password") == [("p-clerk", "p-clerk")]


def test_every_mistake_is_shown_at_once_and_nothing_changes(site: Site) -> None:
    clerk = site.client("p-clerk")
    before = site.user("p-clerk").password_hash
    answer = _change(clerk, "not-my-password", "short", "other")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "This is not your current password." in html
    assert "The two new passwords differ" in html
    assert "at least 10 characters" in html
    assert "not-my-password" not in html
    assert 'value="short"' not in html
    assert site.user("p-clerk").password_hash == before
    assert site.events("user.password") == []


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("1234567890", "too simple"),
        ("password123", "most common"),
        ("p-clerk-2026x", "must not contain the username"),
    ],
)
def test_the_new_password_must_pass_the_policy(site: Site, new: str, message: str) -> None:
    answer = _change(site.client("p-clerk"), PASSWORD, new)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert site.events("user.password") == []


def test_a_wrong_current_password_counts_as_a_failed_login_and_is_throttled(
    site: Site,
) -> None:
    clerk = site.client("p-clerk")
    limit = site.compound.settings.login_max_failures
    for _attempt in range(limit):
        assert _change(clerk, "wrong-guess-x", NEW_PASSWORD).status_code == 400
    assert site.failures("p-clerk") == limit
    throttled = _change(clerk, PASSWORD, NEW_PASSWORD)
    assert throttled.status_code == 429
    assert site.failures("p-clerk") == limit  # a throttled attempt is not recorded
    assert site.events("user.password") == []
