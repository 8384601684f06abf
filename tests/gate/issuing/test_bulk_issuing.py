"""Bulk issuing and re-issuing by building, grid or all, on the console (/passes) and by CLI
(``checkpoint passes issue``), with result counts in Chinese; printing lists a building once
even when two rows read the same, and its PDF takes the households of both."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from api_helpers import Compound, app_settings, build_compound
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from web_helpers import log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.cli.issuing import passes_group
from gate.cli.setup import devices_group, gates_group
from gate.community.models import Area, Building, Community, Grid
from gate.community.models import Compound as CompoundRow
from gate.db import transaction
from gate.devices.models import Gate
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.signing.operations import create_signing_key
from passes import HouseholdStatus

PASSWORD = "correct-horse-battery"


# --- the console ------------------------------------------------------------------------------


@dataclass
class Office:
    compound: Compound
    buildings: dict[str, int]
    """Building code -> id: "7" (3 households with passes), "7号楼" (a twin row of the
    same building, 1 household without a pass), "8" (2 households without passes, another
    grid)."""

    def client(self) -> FlaskClient:
        self.compound.app.config["WTF_CSRF_ENABLED"] = False
        client: FlaskClient = self.compound.app.test_client()
        assert log_in(client, "b-office", PASSWORD).status_code == 302
        return client

    def count(self, *where: object) -> int:
        with transaction(self.compound.sessions) as session:
            query = select(func.count()).select_from(IssuedPass).join(IssuedPass.household)
            return session.scalar(query.where(*where)) or 0

    def active(self, building: str) -> int:
        return self.count(
            IssuedPass.status == PassStatus.ACTIVE,
            Household.building_id == self.buildings[building],
        )


def _households(session: Session, community_id: int, building: Building, count: int) -> None:
    taken = set(session.scalars(select(Household.id)))
    for n in range(count):
        household_id = secrets.randbelow(2**31 - 10_000) + 10_000
        while household_id in taken:
            household_id = secrets.randbelow(2**31 - 10_000) + 10_000
        taken.add(household_id)
        session.add(
            Household(
                id=household_id,
                community_id=community_id,
                building=building,
                code=f"{building.code}-1-{n + 1}01-{secrets.token_hex(2)}",
                unit="1",
                room=f"{n + 1}01",
            )
        )
    session.flush()


@pytest.fixture
def office(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Office]:
    compound = build_compound(db_url, tmp_path, households=3)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="b-office",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
        seven = session.scalars(
            select(Building)
            .join(Building.compound)
            .join(CompoundRow.grid)
            .join(Grid.area)
            .where(Area.community_id == compound.community_id)
        ).one()
        seven.code, seven.name = "7", "7号楼"
        twin = Building(compound_id=seven.compound_id, code="7号楼", name="7号楼")
        area = seven.compound.grid.area
        other_grid = Grid(area=area, name="第8网格", code="G8")
        eight = Building(
            compound=CompoundRow(grid=other_grid, name="八号院", code="P8"), code="8", name="8号楼"
        )
        session.add_all([twin, eight])
        session.flush()
        _households(session, compound.community_id, twin, 1)
        _households(session, compound.community_id, eight, 2)
        buildings = {"7": seven.id, "7号楼": twin.id, "8": eight.id}
    try:
        yield Office(compound, buildings)
    finally:
        compound.dispose()


def _flashes(html: str) -> str:
    return " ".join(re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S))


def _option_labels(html: str, field: str) -> list[str]:
    select_html = re.search(rf'<select[^>]*name="{field}".*?</select>', html, re.S)
    assert select_html, html
    return re.findall(r"<option[^>]*>([^<]*)</option>", select_html.group(0))


def _option_value(html: str, field: str, label_start: str) -> str:
    select_html = re.search(rf'<select[^>]*name="{field}".*?</select>', html, re.S)
    assert select_html
    match = re.search(rf'<option[^>]*value="([^"]*)"[^>]*>{re.escape(label_start)}', select_html[0])
    assert match, select_html[0]
    return match.group(1)


def test_a_building_entered_twice_is_listed_once_and_issued_and_printed_whole(
    office: Office,
) -> None:
    client = office.client()
    page = client.get("/passes/print").get_data(as_text=True)
    labels = _option_labels(page, "issue-building")
    sevens = [label for label in labels if label.startswith("7号楼")]
    assert len(sevens) == 1, labels
    printable = _option_labels(page, "building")
    assert len([label for label in printable if label.startswith("7号楼")]) == 1, printable
    value = _option_value(page, "building", "7号楼")

    issued = client.post(
        "/passes/issue",
        data={
            "issue-scope": "building",
            "issue-building": value,
            "issue-mode": "issue",
            "issue-valid_days": 30,
        },
    )
    assert issued.status_code == 302
    after = client.get(issued.headers["Location"]).get_data(as_text=True)
    chosen = re.search(r'<select[^>]*name="building".*?</select>', after, re.S)
    assert chosen is not None
    assert re.search(rf'<option selected value="{re.escape(value)}"', chosen[0])  # ready to print
    summary = _flashes(after)
    assert "新签发 1 张出入证" in summary
    assert "3 户已有有效出入证" in summary
    assert "共 4 户" in summary
    assert office.active("7号楼") == 1
    assert office.active("7") == 3  # not issued again

    pdf = client.post("/passes/print", data={"building": value})
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    body = pdf.get_data()
    assert body.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?![a-z])", body)) == 1  # 4 cards: one sheet


def test_issuing_by_grid_and_for_everyone_counts_what_it_did(office: Office) -> None:
    client = office.client()
    page = client.get("/passes/print").get_data(as_text=True)
    grid = _option_value(page, "grid", "第8网格")
    client.post(
        "/passes/issue",
        data={
            "issue-scope": "grid",
            "issue-grid": grid,
            "issue-mode": "issue",
            "issue-valid_days": 10,
        },
    )
    assert office.active("8") == 2
    first = _flashes(client.get("/passes/print").get_data(as_text=True))
    assert "第8网格：新签发 2 张出入证" in first

    client.post(
        "/passes/issue", data={"issue-scope": "all", "issue-mode": "issue", "issue-valid_days": 30}
    )
    everyone = _flashes(client.get("/passes/print").get_data(as_text=True))
    assert "全部住户：新签发 1 张出入证；5 户已有有效出入证" in everyone
    assert "共 6 户" in everyone
    with transaction(office.compound.sessions) as session:
        events = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "pass.issue",
                AuditEvent.community_id == office.compound.community_id,
                AuditEvent.actor == "b-office",
            )
        )
    assert events == 3


def test_reissuing_a_building_kills_its_older_cards_and_quarantine_does_not_skip(
    office: Office,
) -> None:
    client = office.client()
    resident = office.compound.residents[0]
    with transaction(office.compound.sessions) as session:
        household = session.get(Household, resident.household_id)
        assert household is not None
        household.status = HouseholdStatus.QUARANTINED
    value = _option_value(client.get("/passes/print").get_data(as_text=True), "building", "7号楼")
    answer = client.post(
        "/passes/issue",
        data={
            "issue-scope": "building",
            "issue-building": value,
            "issue-mode": "reissue",
            "issue-valid_days": 30,
            "issue-reason": "换发新证",
        },
    )
    assert answer.status_code == 302
    assert "已换发 4 张出入证" in _flashes(client.get("/passes/print").get_data(as_text=True))
    assert office.count(IssuedPass.status == PassStatus.SUPERSEDED) == 3
    assert office.active("7") == 3
    assert office.active("7号楼") == 1
    old_card = office.compound.scan(office.compound.client(), resident.pass_text, "in")
    assert old_card.get_json()["verdict"]["code"] == "superseded"


def test_reissuing_while_residents_are_out_warns_that_their_old_cards_will_be_refused(
    office: Office,
) -> None:
    client = office.client()
    resident = office.compound.residents[1]
    went_out = office.compound.scan(office.compound.client(), resident.pass_text, "out")
    assert went_out.get_json()["verdict"]["allowed"] is True
    value = _option_value(client.get("/passes/print").get_data(as_text=True), "building", "7号楼")
    client.post(
        "/passes/issue",
        data={
            "issue-scope": "building",
            "issue-building": value,
            "issue-mode": "reissue",
            "issue-valid_days": 30,
        },
    )
    page = client.get("/passes/print").get_data(as_text=True)
    warning = '<p class="flash flash-warning">其中 1 户此刻在外：他们回来时旧证会被拒绝，'
    assert warning + "值班负责人也不能让旧证通过。" in page
    # Issuing only to households without a pass kills no card: no warning.
    client.post(
        "/passes/issue",
        data={"issue-scope": "all", "issue-mode": "issue", "issue-valid_days": 30},
    )
    assert "flash-warning" not in client.get("/passes/print").get_data(as_text=True)


def test_a_bad_choice_is_refused_and_issues_nothing(office: Office) -> None:
    client = office.client()
    before = office.count()
    no_place = client.post(
        "/passes/issue",
        data={"issue-scope": "building", "issue-mode": "issue", "issue-valid_days": 30},
    )
    assert no_place.status_code == 400
    assert "请选择楼栋或网格" in no_place.get_data(as_text=True)
    too_long = client.post(
        "/passes/issue", data={"issue-scope": "all", "issue-mode": "issue", "issue-valid_days": 999}
    )
    assert too_long.status_code == 400
    foreign = client.post(
        "/passes/issue",
        data={
            "issue-scope": "building",
            "issue-building": "999999",
            "issue-mode": "issue",
            "issue-valid_days": 30,
        },
    )
    assert foreign.status_code == 400  # not one of the community's entries
    assert office.count() == before


# --- the CLI ------------------------------------------------------------------------------------


@click.group()
def cli() -> None:
    """The commands under test, as ``checkpoint`` registers them."""


for _group in (passes_group, gates_group, devices_group):
    cli.add_command(_group)


@dataclass
class Cli:
    env: dict[str, str]
    sessions_url: str
    community_code: str

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result


@pytest.fixture
def office_cli(committed_engine: Engine, db_url: str, tmp_path: Path) -> Cli:
    settings = app_settings(db_url, tmp_path)
    settings.keys_dir.mkdir(parents=True, exist_ok=True)
    from gate.db import session_factory

    code = f"x{secrets.token_hex(3)}"
    with transaction(session_factory(committed_engine)) as session:
        community = Community(id=secrets.randbelow(2**31 - 1) + 1, name="幸福里", code=code)
        session.add(community)
        session.flush()
        create_signing_key(
            session,
            community_id=community.id,
            keys_dir=settings.keys_dir,
            actor="test",
            now=datetime.now(UTC) - timedelta(days=1),
        )
        area = Area(community=community, name="东片区", code="A1")
        for grid_no, buildings in ((1, ("1", "2")), (2, ("3",))):
            grid = Grid(area=area, name=f"第{grid_no}网格", code=f"G{grid_no}")
            compound = CompoundRow(grid=grid, name="幸福里", code="P")
            for number in buildings:
                building = Building(compound=compound, code=number, name=f"{number}号楼")
                session.add(building)
                session.flush()
                _households(session, community.id, building, 3)
        session.add(Gate(community_id=community.id, name="北门", code="north"))
    env = {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": db_url,
    }
    return Cli(env, db_url, code)


def test_cli_issues_by_grid_and_building_and_reissues_in_chinese(
    office_cli: Cli, committed_engine: Engine
) -> None:
    c = office_cli.community_code
    by_grid = office_cli("passes", "issue", "--community", c, "--grid", "第1网格")
    assert "已签发 6 张出入证。" in by_grid.output
    again = office_cli("passes", "issue", "--community", c, "--building", "2号楼")
    assert "已签发 0 张出入证。" in again.output
    assert "3 户已有有效出入证，未重复签发" in again.output
    everyone = office_cli("passes", "issue", "--community", c, "--all")
    assert "已签发 3 张出入证。" in everyone.output
    re_issued = office_cli(
        "passes", "issue", "--community", c, "--building", "3", "--reissue", "--reason", "换证"
    )
    assert "已换发 3 张出入证，旧证即日起作废。" in re_issued.output
    assert "pass(es)" not in by_grid.output + again.output + re_issued.output
    from gate.db import session_factory

    with transaction(session_factory(committed_engine)) as session:
        statuses = session.execute(
            select(IssuedPass.status, func.count()).group_by(IssuedPass.status)
        ).all()
        reasons = session.scalars(
            select(AuditEvent.reason).where(AuditEvent.action == "pass.reissue")
        ).all()
    assert dict(statuses) == {
        PassStatus.ACTIVE: 9,
        PassStatus.SUPERSEDED: 3,
    }
    assert reasons == ["换证"] * 3


def test_cli_refusals_are_chinese(office_cli: Cli) -> None:
    c = office_cli.community_code
    unknown = office_cli("passes", "issue", "--community", c, "--grid", "第9网格", code=1)
    assert "第9网格" in unknown.output
    assert re.search(r"[\u4e00-\u9fff]{4}", unknown.output.replace("第9网格", ""))
    both = office_cli("passes", "issue", "--community", c, "--all", "--grid", "第1网格", code=2)
    assert "--grid" in both.output
    assert "选且只选一项" in both.output


def test_cli_closes_and_reopens_a_gate(office_cli: Cli) -> None:
    c = office_cli.community_code
    added = office_cli("devices", "add", "--community", c, "--gate", "north")
    assert "登记码" in added.output
    closed = office_cli(
        "gates", "close", "--community", c, "--gate", "north", "--reason", "只留南门"
    )
    assert "出入口 北门 已关闭，1 台扫码设备已吊销。" in closed.output
    listed = office_cli("gates", "list", "--community", c)
    assert "north\t北门\t已关闭" in listed.output
    refused = office_cli("devices", "add", "--community", c, "--gate", "north", code=1)
    assert "已关闭" in refused.output
    twice = office_cli("gates", "close", "--community", c, "--gate", "north", code=1)
    assert "已经关闭" in twice.output
    reopened = office_cli("gates", "close", "--community", c, "--gate", "north", "--reopen")
    assert "出入口 北门 已重新开放。" in reopened.output
    office_cli("devices", "add", "--community", c, "--gate", "north")


@pytest.mark.slow
def test_five_thousand_households_are_issued_in_one_request(office: Office) -> None:
    with transaction(office.compound.sessions) as session:
        building = session.get_one(Building, office.buildings["8"])
        _households(session, office.compound.community_id, building, 5_000)
    client = office.client()
    started = time.perf_counter()
    answer = client.post(
        "/passes/issue",
        data={"issue-scope": "all", "issue-mode": "issue", "issue-valid_days": 30},
    )
    elapsed = time.perf_counter() - started
    assert answer.status_code == 302
    summary = _flashes(client.get("/passes/print").get_data(as_text=True))
    assert "新签发 5003 张出入证" in summary, summary
    assert office.active("8") == 5_002
    print(f"5,003 passes issued in one request: {elapsed:.1f} s")
    started = time.perf_counter()
    again = client.post(
        "/passes/issue",
        data={"issue-scope": "all", "issue-mode": "reissue", "issue-valid_days": 30},
    )
    elapsed = time.perf_counter() - started
    assert again.status_code == 302
    assert "已换发 5006 张出入证" in _flashes(client.get("/passes/print").get_data(as_text=True))
    assert office.count(IssuedPass.status == PassStatus.SUPERSEDED) == 5_006
    print(f"5,006 passes re-issued in one request: {elapsed:.1f} s")
