"""First-time setup: every mistake shown in one round, answers kept (not the passwords, and
the page says so), the time zone a list with Beijing time first that also takes 北京时间 or
UTC+8, and a setup left after step 1 offered again on the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import csrf_token, make_app

from gate.accounts.firstrun import issue_setup_token, normalise_timezone
from gate.accounts.models import User
from gate.community.models import Community

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


@pytest.fixture
def app(db_url: str, db_session_factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return make_app(db_url, db_session_factory, tmp_path)


def _answers(**overrides: str) -> dict[str, str]:
    answers = {
        "username": "admin",
        "display_name": "王主任",
        "password": "purple-otter-lantern",
        "password_again": "purple-otter-lantern",
        "community_name": "幸福里社区",
        "timezone": "Asia/Shanghai",
        "address": "鲤城区幸福路 1 号",
    }
    return answers | overrides


def _post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def _path(db_session: Session) -> str:
    token = issue_setup_token(db_session, now=datetime.now(UTC))
    assert token is not None
    db_session.flush()
    return f"/setup/{token}"


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_four_mistakes_are_shown_in_one_round_and_the_answers_kept(
    app: Flask, db_session: Session
) -> None:
    path = _path(db_session)
    client = app.test_client()
    client.get("/lang/en")
    answer = _post(
        client,
        path,
        **_answers(
            username="Bad Name!",
            password="1234567890",
            password_again="1234567890x",
            community_name="",
            timezone="Mars/Base",
        ),
    )
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "A username is 2-64 characters" in html
    assert "too simple" in html
    assert "The two passwords differ." in html
    assert "Enter the community" in html
    assert "Unknown time zone Mars/Base" in html
    assert 'value="Bad Name!"' in html
    assert "鲤城区幸福路 1 号" in html
    assert 'value="1234567890' not in html
    assert 'id="password-not-kept"' in html
    assert 'id="setup-errors"' in html
    assert (_count(db_session, Community), _count(db_session, User)) == (0, 0)


def test_the_time_zone_is_a_list_with_beijing_time_first(app: Flask, db_session: Session) -> None:
    client = app.test_client()
    html = client.get(_path(db_session)).get_data(as_text=True)
    select_html = html.split('name="timezone"')[1].split("</select>")[0]
    options = select_html.split("<option")[1:]
    assert 'value="Asia/Shanghai"' in options[0]
    assert "北京时间" in options[0]


@pytest.mark.parametrize("typed", ["北京时间", "UTC+8", "utc + 08:00", "东八区", "GMT+8"])
def test_beijing_time_typed_is_asia_shanghai(app: Flask, db_session: Session, typed: str) -> None:
    client = app.test_client()
    answer = _post(client, _path(db_session), **_answers(timezone=typed))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    community = db_session.scalar(select(Community))
    assert community is not None
    assert community.timezone == "Asia/Shanghai"


def test_normalise_timezone_leaves_other_names_alone() -> None:
    assert normalise_timezone(" Europe/Berlin ") == "Europe/Berlin"
    assert normalise_timezone("ＵＴＣ＋８") == "Asia/Shanghai"
    assert normalise_timezone("UTC+9") == "UTC+9"


def test_a_setup_left_after_step_one_is_offered_on_the_dashboard(
    app: Flask, db_session: Session
) -> None:
    client = app.test_client()
    assert _post(client, _path(db_session), **_answers()).status_code == 302
    dashboard = client.get("/").get_data(as_text=True)
    assert 'id="setup-unfinished"' in dashboard
    assert 'href="/setup/gate"' in dashboard
    assert _post(client, "/setup/gate", name="南门").status_code == 302
    assert 'id="setup-unfinished"' not in client.get("/").get_data(as_text=True)
