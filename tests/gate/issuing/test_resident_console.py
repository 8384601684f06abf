"""The office console's resident-link button (household page) and the admin's rotating-codes
toggle (rules page), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.console.households import only_this_machine
from gate.db import transaction

PASSWORD = "correct-horse-battery"
NEW_LINK = re.compile(r'id="new-link".*?value="http://[^"/]+/p/([A-Za-z0-9_-]{43})"', re.DOTALL)


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    with transaction(built.sessions) as session:
        for role in (Role.ADMIN, Role.OFFICE):
            create_user(
                session,
                community_id=built.community_id,
                username=f"u-{role.value}",
                password=PASSWORD,
                role=role,
                actor="test",
            )
    built.app.config["WTF_CSRF_ENABLED"] = False
    try:
        yield built
    finally:
        built.dispose()


def _client(compound: Compound, role: Role) -> FlaskClient:
    client: FlaskClient = compound.app.test_client()
    answer = client.post("/login", data={"username": f"u-{role.value}", "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def _actions(compound: Compound, prefix: str) -> list[tuple[str, str]]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.action.like(prefix + "%"))
            .order_by(AuditEvent.id)
        ).all()
    return [(action, actor) for action, actor in rows]


def test_the_household_page_issues_reissues_and_revokes_the_resident_link(
    compound: Compound,
) -> None:
    office = _client(compound, Role.OFFICE)
    code = compound.residents[0].code
    assert 'id="new-link"' not in office.get(f"/households/{code}").get_data(as_text=True)
    issued = office.post(f"/households/{code}/link", data={"action": "issue"})
    assert issued.status_code == 200
    [first] = NEW_LINK.findall(issued.get_data(as_text=True))
    resident = compound.client()
    page = resident.get(f"/p/{first}").get_data(as_text=True)
    assert code in page
    assert compound.residents[1].code not in page

    again = office.post(f"/households/{code}/link", data={"action": "issue"})
    [second] = NEW_LINK.findall(again.get_data(as_text=True))
    assert resident.get(f"/p/{first}").status_code == 404
    assert resident.get(f"/p/{second}").status_code == 200

    revoked = office.post(f"/households/{code}/link", data={"action": "revoke"})
    assert revoked.status_code == 302
    assert resident.get(f"/p/{second}").status_code == 404
    assert _actions(compound, "resident_link.") == [
        ("resident_link.issue", "u-office"),
        ("resident_link.reissue", "u-office"),
        ("resident_link.revoke", "u-office"),
    ]
    nothing = office.post(f"/households/{code}/link", data={"action": "revoke"})
    assert nothing.status_code == 409
    assert len(_actions(compound, "resident_link.")) == 3


def test_only_the_admin_turns_rotating_codes_on_and_the_page_then_hides_the_static_pass(
    compound: Compound,
) -> None:
    office = _client(compound, Role.OFFICE)
    admin = _client(compound, Role.ADMIN)
    assert "console.rotating_codes" not in office.get("/rules").get_data(as_text=True)
    assert office.post("/rules/rotating-codes", data={"enabled": "on"}).status_code == 403
    assert admin.post("/rules/rotating-codes", data={"enabled": "on"}).status_code == 302
    with transaction(compound.sessions, read_only=True) as session:
        assert session.get_one(Community, compound.community_id).rotating_codes_enabled
    assert _actions(compound, "community.rotating_codes") == [
        ("community.rotating_codes", "u-admin")
    ]
    code = compound.residents[0].code
    issued = office.post(f"/households/{code}/link", data={"action": "issue"})
    [token] = NEW_LINK.findall(issued.get_data(as_text=True))
    page = compound.client().get(f"/p/{token}").get_data(as_text=True)
    assert compound.residents[0].pass_text not in page
    assert 'data-rotating="1"' in page
    assert admin.post("/rules/rotating-codes", data={"enabled": "off"}).status_code == 302
    with transaction(compound.sessions, read_only=True) as session:
        assert not session.get_one(Community, compound.community_id).rotating_codes_enabled


def test_a_link_a_phone_cannot_open_is_said_so_and_the_public_address_is_used(
    compound: Compound,
) -> None:
    office = _client(compound, Role.OFFICE)
    code = compound.residents[0].code

    def issued() -> str:
        answer = office.post(f"/households/{code}/link", data={"action": "issue"})
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    on_localhost = issued()  # the clerk opened the console on the server itself
    assert 'value="http://localhost/p/' in on_localhost
    assert 'id="new-link-local"' in on_localhost
    compound.services.settings = dataclasses.replace(
        compound.services.settings, public_url="https://pass.example.org"
    )
    public = issued()
    assert 'value="https://pass.example.org/p/' in public
    assert 'id="new-link-local"' not in public


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost/p/x", True),
        ("http://127.0.0.1:5000/p/x", True),
        ("http://[::1]:5000/p/x", True),
        ("http://gate.localhost/p/x", True),
        ("http://192.168.31.20:5000/p/x", False),
        ("https://pass.example.org/p/x", False),
    ],
)
def test_only_this_machines_addresses_are_local(url: str, local: bool) -> None:
    assert only_this_machine(url) is local
