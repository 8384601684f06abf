"""The same household action from the CLI and from the console leaves the same trace, and
``checkpoint db upgrade`` re-hashes ID numbers under the ID-hash key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import app_settings
from sqlalchemy import select, update
from test_cli_registry import Office, register, write_xlsx

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.app import create_app
from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.db import session_factory, transaction
from gate.households.id_numbers import hash_id_number, id_hash_key, open_id_number
from gate.households.models import Household, Member

PASSWORD = "correct-horse-battery"


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
    rows, _bad = register(2)
    office("households", "import", str(write_xlsx(tmp_path / "住户.xlsx", rows)))
    try:
        yield office
    finally:
        office.engine.dispose()


def _codes(office: Office) -> list[str]:
    with transaction(session_factory(office.engine), read_only=True) as session:
        return sorted(session.scalars(select(Household.code)))


def _events(office: Office, action: str, code: str) -> list[AuditEvent]:
    return [e for e in office.audit(action) if e.subject_id == code]


def test_exempt_from_the_cli_and_the_console_writes_one_identical_event(office: Office) -> None:
    by_cli, by_web = _codes(office)
    office("households", "exempt", by_cli, "--reason", "保供人员", "--actor", "clerk")

    app = create_app(settings=app_settings(office.url, office.directory))
    app.config["WTF_CSRF_ENABLED"] = False
    with transaction(app.extensions["checkpoint"].sessions) as session:
        create_user(
            session,
            community_id=350322,
            username="clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
    client = app.test_client()
    assert (
        client.post("/login", data={"username": "clerk", "password": PASSWORD}).status_code == 302
    )
    answer = client.post(
        f"/households/{by_web}/status", data={"action": "exempt", "reason": "保供人员"}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    app.extensions["checkpoint"].engine.dispose()

    [cli_event] = _events(office, "household.exempt", by_cli)
    [web_event] = _events(office, "household.exempt", by_web)
    assert (cli_event.actor, web_event.actor) == ("clerk", "clerk")
    for event in (cli_event, web_event):
        assert (event.subject_type, event.reason) == ("household", "保供人员")
    assert json.loads(cli_event.details_json) == json.loads(web_event.details_json)


def test_a_status_change_without_a_reason_is_refused_in_chinese(office: Office) -> None:
    code = _codes(office)[0]
    refused = office("households", "normal", code, "--reason", " ", code=1)
    assert "修改状态必须填写原因" in refused.output + refused.stderr


def test_db_upgrade_rehashes_id_numbers_under_the_key_file(office: Office) -> None:
    with transaction(session_factory(office.engine)) as session:
        session.execute(update(Member).values(id_number_hash="stale"))

    upgraded = office("db", "upgrade")

    assert "已更新 2 条" in upgraded.output
    key = id_hash_key(office.directory / "keys")
    with transaction(session_factory(office.engine), read_only=True) as session:
        for member in session.scalars(select(Member)):
            assert member.id_number is not None
            plaintext = open_id_number(key, member.id_number)
            assert member.id_number_hash == hash_id_number(key, plaintext)
    assert "已更新 0 条" in office("households", "rehash-ids").output
