"""Cards leaving the office (gate.issuing.output): whichever entry point, the same trace.

The console's PNG download and ``checkpoint passes card`` each write exactly one
``pass.card`` event; the console's print and ``checkpoint passes print`` each exactly one
``pass.print``. A print run renders without touching the database, so the entry point can end
its transaction (and SQLite's write lock) before the long part.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, build_compound
from click.testing import CliRunner, Result
from factories import make_building, make_household
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.cli import _register_commands, cli
from gate.community.models import Building, Community
from gate.db import transaction
from gate.households.models import Household
from gate.households.operations import normalise_household_code
from gate.issuing.models import IssuedPass
from gate.issuing.operations import IssuingError, current_pass, issue_pass, revoke_pass
from gate.issuing.output import prepare_sheets, print_sheets
from gate.signing.operations import create_signing_key

_register_commands()

PASSWORD = "correct-horse-battery"
NOW = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)


@dataclasses.dataclass
class Office:
    """A compound, a logged-in office clerk's browser and the CLI on the same database."""

    compound: Compound
    browser: FlaskClient
    env: dict[str, str]

    @property
    def community_code(self) -> str:
        return f"c{self.compound.community_id}"

    def code(self, index: int) -> str:
        """Resident ``index``'s household code, as stored (the fixture normalised it)."""
        return normalise_household_code(self.compound.residents[index].code)

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*args, "--community", self.community_code], env=self.env)
        assert result.exit_code == 0, result.output
        return result

    def events(self, action: str) -> list[AuditEvent]:
        with transaction(self.compound.sessions, read_only=True) as session:
            return list(
                session.scalars(
                    select(AuditEvent)
                    .where(
                        AuditEvent.action == action,
                        AuditEvent.community_id == self.compound.community_id,
                    )
                    .order_by(AuditEvent.id)
                )
            )


@pytest.fixture
def office(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Office]:
    compound = build_compound(db_url, tmp_path, households=3)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
        # Stored codes are normalised, as an import stores them (the CLI looks them up so).
        for row in session.scalars(
            select(Household).where(Household.community_id == compound.community_id)
        ):
            row.code = normalise_household_code(row.code)
    compound.app.config["WTF_CSRF_ENABLED"] = False
    browser = compound.app.test_client()
    login = browser.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert login.status_code == 302
    env = {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": db_url,
    }
    try:
        yield Office(compound, browser, env)
    finally:
        compound.dispose()


def _details(row: AuditEvent) -> dict[str, Any]:
    return dict(json.loads(row.details_json or "{}"))


def test_a_card_from_the_console_and_from_the_cli_each_write_one_pass_card_event(
    office: Office, tmp_path: Path
) -> None:
    code = office.code(0)
    with transaction(office.compound.sessions, read_only=True) as session:
        household = session.scalars(
            select(Household).where(
                Household.community_id == office.compound.community_id, Household.code == code
            )
        ).one()
        record = current_pass(session, household)
        assert record is not None

    download = office.browser.get(f"/households/{code}/passes/{record.id}/card.png")
    assert download.status_code == 200
    assert download.data.startswith(b"\x89PNG")
    [by_web] = office.events("pass.card")

    office.cli("passes", "card", "--household", code, "--out", str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    web, by_cli = office.events("pass.card")

    assert web.id == by_web.id
    assert (web.actor, by_cli.actor.startswith("cli:")) == ("clerk", True)
    assert (web.subject_type, web.subject_id) == (by_cli.subject_type, by_cli.subject_id)
    assert _details(web)["manual_code"] == _details(by_cli)["manual_code"]
    assert (_details(web)["file"], _details(by_cli)["file"]) == (f"出入证-{code}.png", "c.png")


def test_a_print_from_the_console_and_from_the_cli_each_write_one_pass_print_event(
    office: Office, tmp_path: Path
) -> None:
    page = office.browser.get("/passes/print").get_data(as_text=True)
    select_html = page.split('<select class="input" id="building" name="building">')[1]
    building_id = select_html.split('<option value="')[2].split('"')[0]
    with transaction(office.compound.sessions, read_only=True) as session:
        building = session.get_one(Building, int(building_id))
        building_code = building.code

    pdf = office.browser.post("/passes/print", data={"building": building_id})
    assert pdf.status_code == 200, pdf.get_data(as_text=True)[:300]
    assert pdf.data.startswith(b"%PDF")
    [by_web] = office.events("pass.print")

    out = tmp_path / "b.pdf"
    printed = office.cli("passes", "print", "--building", building_code, "--out", str(out))
    assert "（共 1 页）写入" in printed.output
    web, by_cli = office.events("pass.print")

    assert web.id == by_web.id
    assert web.subject_type == by_cli.subject_type == "print"
    web_details, cli_details = _details(web), _details(by_cli)
    assert set(web_details) == set(cli_details)
    for key in ("cards", "pages", "without_pass"):
        assert web_details[key] == cli_details[key], key
    assert web_details["building"] == building.name
    assert cli_details["building"] == building_code


def test_a_refused_print_writes_no_event_and_says_why_in_chinese(office: Office) -> None:
    with transaction(office.compound.sessions) as session:
        for resident in office.compound.residents:
            record = current_pass(session, session.get_one(Household, resident.household_id))
            assert record is not None
            revoke_pass(session, record, actor="test", reason="moved", now=NOW)
    page = office.browser.get("/passes/print").get_data(as_text=True)
    select_html = page.split('<select class="input" id="building" name="building">')[1]
    building_id = select_html.split('<option value="')[2].split('"')[0]

    refused = office.browser.post("/passes/print", data={"building": building_id})

    assert refused.status_code == 409
    assert "请先发放出入证" in refused.get_data(as_text=True)  # zh-CN, the default language
    assert office.events("pass.print") == []


@pytest.fixture
def signing(db_session: Session, community: Community, tmp_path: Path) -> None:
    create_signing_key(
        db_session,
        community_id=community.id,
        keys_dir=tmp_path,
        actor="clerk",
        now=NOW - dt.timedelta(days=1),
    )


@pytest.mark.usefixtures("signing")
def test_sheets_render_without_touching_the_database(
    db_session: Session, community: Community
) -> None:
    building = make_building(db_session, community, code="7")
    rows = [make_household(db_session, community=community, building=building) for _ in range(9)]
    for row in rows[:-1]:
        issue_pass(db_session, row, actor="clerk", now=NOW)
    run = prepare_sheets(db_session, community, rows, now=NOW)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", count)
    try:
        cards = list(run.cards())
    finally:
        event.remove(connection, "before_cursor_execute", count)

    assert statements == []
    assert len(cards) == 8
    assert run.without_pass == [rows[-1].code]
    out = io.BytesIO()
    assert print_sheets(db_session, run, out, actor="clerk", subject="b7") == 1
    [printed] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "pass.print"))
    assert _details(printed) == {"cards": 8, "pages": 1, "without_pass": 1}


@pytest.mark.usefixtures("signing")
def test_nothing_to_print_is_a_code_not_a_sentence(
    db_session: Session, community: Community
) -> None:
    building = make_building(db_session, community, code="8")
    rows = [make_household(db_session, community=community, building=building)]

    with pytest.raises(IssuingError) as refused:
        prepare_sheets(db_session, community, rows, now=NOW)

    assert refused.value.code == "nothing_to_print"
    assert refused.value.params == {}
    assert db_session.scalars(select(IssuedPass)).all() == []


def _active_pass(office: Office, code: str) -> IssuedPass:
    with transaction(office.compound.sessions, read_only=True) as session:
        household = session.scalars(
            select(Household).where(
                Household.community_id == office.compound.community_id, Household.code == code
            )
        ).one()
        record = current_pass(session, household)
        assert record is not None
        return record


def test_issue_reissue_and_revoke_from_the_console_and_the_cli_each_write_one_event(
    office: Office,
) -> None:
    code = office.code(1)
    baseline = {a: len(office.events(a)) for a in ("pass.issue", "pass.reissue", "pass.revoke")}

    def added(action: str) -> int:
        return len(office.events(action)) - baseline[action]

    assert (
        office.browser.post(f"/households/{code}/passes", data={"valid_days": "30"}).status_code
        == 302
    )
    assert added("pass.issue") == 1
    office.cli("passes", "issue", "--household", code, "--force")
    assert added("pass.issue") == 2

    reissue = {"valid_days": "30", "reissue": "y"}
    assert office.browser.post(f"/households/{code}/passes", data=reissue).status_code == 302
    assert added("pass.reissue") == 1
    office.cli("passes", "reissue", "--household", code, "--reason", "卡丢失")
    assert added("pass.reissue") == 2

    record = _active_pass(office, code)
    revoke = office.browser.post(
        f"/households/{code}/passes/{record.id}/revoke", data={"reason": "卡片遗失"}
    )
    assert revoke.status_code == 302
    assert added("pass.revoke") == 1
    office.cli("passes", "issue", "--household", code)
    office.cli("passes", "revoke", "--manual-code", _active_pass(office, code).manual_code or "",
               "--reason", "搬离")  # fmt: skip
    assert added("pass.revoke") == 2
    assert {e.action for e in office.events("pass.revoke")} == {"pass.revoke"}


def test_a_device_is_created_and_revoked_once_each_in_the_audit_log(office: Office) -> None:
    created = office.browser.post(
        "/devices", data={"gate": str(office.compound.gate_id), "name": "南门扫码机"}
    )
    assert created.status_code == 200
    device_id = office.compound.device_id
    assert [e.actor for e in office.events("device.create")].count("clerk") == 1

    for _attempt in range(2):
        revoked = office.browser.post(f"/devices/{device_id}/revoke", data={"reason": "丢失"})
        assert revoked.status_code == 302
    assert [e.subject_id for e in office.events("device.revoke")] == [str(device_id)]
