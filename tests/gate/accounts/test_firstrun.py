"""The first run in the browser: a one-time setup link while no account exists.

Over HTTP with the real app (CSRF on, as a browser posts), on SQLite and PostgreSQL: the
link works once, a bad answer writes nothing and keeps the link, the page is gone (410) for
good once the administrator exists, then the gate, the rules template and the next steps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import csrf_token, make_app

from gate.accounts.firstrun import (
    FirstRun,
    SetupClosed,
    complete_first_run,
    issue_setup_token,
    setup_link_if_needed,
)
from gate.accounts.models import Role, SetupToken, User
from gate.audit.models import AuditEvent
from gate.community.context import current_rules
from gate.community.models import Community
from gate.devices.models import Gate
from gate.rules.templates import template_rules
from gate.signing.models import SigningKeyRecord

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def client(db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path) -> FlaskClient:
    return make_app(db_url, db_session_factory, tmp_path).test_client()


def _post(client: FlaskClient, path: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, path), **form})


def _answers(**changes: str) -> dict[str, str]:
    answers = {
        "username": "admin",
        "display_name": "王主任",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "community_name": "幸福里社区",
        "timezone": "Asia/Shanghai",
        "address": "鲤城区幸福路 1 号",
    }
    answers.update(changes)
    return answers


def test_the_setup_link_creates_the_admin_and_community_once_then_is_gone_for_good(
    db_session: Session, client: FlaskClient
) -> None:
    login = client.get("/login").get_data(as_text=True)
    assert 'id="first-run"' in login
    link = setup_link_if_needed(db_session, "http://127.0.0.1:5000", now=NOW)
    assert link is not None
    db_session.commit()
    path = link.removeprefix("http://127.0.0.1:5000")
    assert path.startswith("/setup/")
    token = path.removeprefix("/setup/")
    stored = db_session.scalar(select(SetupToken.token_hash))
    assert stored is not None
    assert token not in stored  # only the hash is kept

    assert client.get("/setup/not-the-token").status_code == 404
    page = client.get(path)
    assert page.status_code == 200
    assert "首次设置" in page.get_data(as_text=True)

    # a bad answer writes nothing and keeps the link
    weak = _post(client, path, **_answers(password="1234567890", password_again="1234567890"))
    assert weak.status_code == 400
    assert "密码" in weak.get_data(as_text=True)
    differ = _post(client, path, **_answers(password_again="something else entirely"))
    assert differ.status_code == 400
    zone = _post(client, path, **_answers(timezone="Mars/Base"))
    assert zone.status_code == 400
    assert "时区" in zone.get_data(as_text=True)
    assert (_count(db_session, Community), _count(db_session, User)) == (0, 0)

    done = _post(client, path, **_answers())
    assert done.status_code == 302, done.get_data(as_text=True)
    assert done.headers["Location"] == "/setup/gate"
    admin = db_session.scalar(select(User))
    assert admin is not None
    assert (admin.username, admin.role, admin.display_name) == ("admin", Role.ADMIN, "王主任")
    community = db_session.get(Community, admin.community_id)
    assert community is not None
    assert (community.name, community.address) == ("幸福里社区", "鲤城区幸福路 1 号")
    assert _count(db_session, SigningKeyRecord) == 1
    assert db_session.scalar(select(SetupToken.used_at)) is not None

    # gone for good: the same link, in this browser or another, and any new link
    assert client.get(path).status_code == 410
    other = client.application.test_client()  # a second browser
    again = other.post(path, data={"csrf_token": csrf_token(other, "/login"), **_answers()})
    assert again.status_code == 410
    assert client.get("/setup/not-the-token").status_code == 410
    assert issue_setup_token(db_session, now=NOW) is None
    assert _count(db_session, User) == 1

    # the wizard goes on as the logged-in administrator
    assert _post(client, "/setup/gate", name="南门").headers["Location"] == "/setup/rules"
    assert _post(client, "/setup/rules", template="daily").headers["Location"] == "/setup/done"
    next_steps = client.get("/setup/done").get_data(as_text=True)
    for link_to in ("/households/import", "/passes/print", "/devices", "/users"):
        assert f'href="{link_to}"' in next_steps
    assert [gate.name for gate in db_session.scalars(select(Gate))] == ["南门"]
    db_session.expire_all()
    community = db_session.get(Community, admin.community_id)
    assert community is not None
    rules = current_rules(db_session, community)
    expected = template_rules("daily", "Asia/Shanghai")
    assert rules.quota == expected.quota
    actions = list(db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["community.create", "user.create", "key.create", "gate.add", "rules.save"]


def test_the_wizard_pages_after_the_link_need_an_administrator(
    db_session: Session, client: FlaskClient
) -> None:
    assert client.get("/setup/gate").status_code == 302
    assert client.get("/setup/rules").headers["Location"].startswith("/login?next=")


def test_an_expired_or_replaced_link_does_not_work(
    db_session: Session, client: FlaskClient
) -> None:
    old = issue_setup_token(db_session, now=NOW - timedelta(hours=25))
    db_session.commit()
    assert client.get(f"/setup/{old}").status_code == 410
    first = issue_setup_token(db_session, now=NOW)
    second = issue_setup_token(db_session, now=NOW)
    db_session.commit()
    assert client.get(f"/setup/{first}").status_code == 404  # replaced by the newer link
    assert client.get(f"/setup/{second}").status_code == 200


def test_a_token_is_used_once_even_by_two_submissions(db_session: Session) -> None:
    token = issue_setup_token(db_session, now=NOW)
    assert token is not None
    first = FirstRun("admin", "", PASSWORD, "甲社区", "Asia/Shanghai")
    complete_first_run(db_session, token, first, now=NOW)
    with pytest.raises(SetupClosed):
        complete_first_run(
            db_session, token, FirstRun("admin2", "", PASSWORD, "乙社区", "UTC"), now=NOW
        )
    assert _count(db_session, Community) == 1


def test_the_setup_link_command_prints_a_link_only_while_no_account_exists(
    tmp_path: Path, fresh_db_url: str
) -> None:
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
    printed = run("users", "setup-link", "--base-url", "http://192.0.2.1:5000")
    assert "http://192.0.2.1:5000/setup/" in printed
    assert "一次性设置链接" in printed
    run("community", "create", "--name", "甲社区", "--code", "jia")
    run("users", "create-admin", "--username", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    closed = run("users", "setup-link", code=1)
    assert "已有账号" in closed
