"""The site page (/site) through HTTP: the hierarchy (add, rename, merge two buildings that
are the same, household counts), gates (add, rename, close, reopen) and their scanners, each
change audited; and the devices page coherent with closed gates."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound, verdict_of
from factories import make_building
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from web_helpers import csrf_token, log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.community.models import Area, Building, Community, Grid
from gate.community.models import Compound as CompoundRow
from gate.db import transaction
from gate.devices.models import Device, Gate
from gate.households.models import Household

PASSWORD = "correct-horse-battery"


@dataclass
class Site:
    compound: Compound
    other_building_id: int

    def client(self, role: str = "office", *, csrf: bool = False) -> FlaskClient:
        self.compound.app.config["WTF_CSRF_ENABLED"] = csrf
        client: FlaskClient = self.compound.app.test_client()
        answer = log_in(client, f"s-{role}", PASSWORD)
        assert answer.status_code == 302, answer.get_data(as_text=True)
        return client

    def events(self, action: str) -> list[AuditEvent]:
        with transaction(self.compound.sessions) as session:
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

    def building(self) -> Building:
        with transaction(self.compound.sessions) as session:
            return session.scalars(
                select(Building)
                .join(Building.compound)
                .join(CompoundRow.grid)
                .join(Grid.area)
                .where(Area.community_id == self.compound.community_id)
            ).one()


@pytest.fixture
def site(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Site]:
    compound = build_compound(db_url, tmp_path, households=3)
    with transaction(compound.sessions) as session:
        for role in ("office", "auditor", "volunteer"):
            create_user(
                session,
                community_id=compound.community_id,
                username=f"s-{role}",
                password=PASSWORD,
                role=Role(role),
                actor="test",
            )
        other = Community(
            id=secrets.randbelow(2**31 - 1) + 1, name="乙社区", code=f"b{secrets.token_hex(3)}"
        )
        session.add(other)
        session.flush()
        other_building_id = make_building(session, other).id
    try:
        yield Site(compound, other_building_id)
    finally:
        compound.dispose()


def _households_shown(html: str, building_id: int) -> int:
    row = re.search(rf'id="building-{building_id}".*?data-households="(\d+)"', html, re.S)
    assert row, html
    return int(row.group(1))


def test_site_page_shows_the_hierarchy_with_household_counts_in_chinese(site: Site) -> None:
    client = site.client()
    page = client.get("/site")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    building = site.building()
    assert _households_shown(html, building.id) == 3
    listing = client.get(f"/households?building={building.id}").get_data(as_text=True)
    assert f'href="/households?building={building.id}"' in html
    assert all(resident.code in listing for resident in site.compound.residents)
    assert "片区" in html
    assert "网格" in html
    assert "楼栋" in html
    assert "出入口" in html
    assert "南门" in html
    assert 'href="/site"' in client.get("/").get_data(as_text=True)  # in the navigation


def test_only_office_staff_open_the_site_page(site: Site) -> None:
    assert site.client("auditor").get("/site").status_code == 403
    assert site.client("volunteer").get("/site").status_code == 403
    anonymous = site.compound.app.test_client()
    assert anonymous.get("/site").status_code in (302, 401)


def test_the_office_adds_and_renames_each_level_audited(site: Site) -> None:
    client = site.client()
    added = client.post("/site/places", data={"level": "area", "name": "东片区"})
    assert added.status_code == 302
    with transaction(site.compound.sessions) as session:
        area = session.scalars(select(Area).where(Area.name == "东片区")).one()
        area_id = area.id
    client.post("/site/places", data={"level": "grid", "parent": area_id, "name": "第9网格"})
    with transaction(site.compound.sessions) as session:
        grid_id = session.scalars(select(Grid.id).where(Grid.name == "第9网格")).one()
    client.post("/site/places", data={"level": "compound", "parent": grid_id, "name": "新苑"})
    with transaction(site.compound.sessions) as session:
        compound_id = session.scalars(
            select(CompoundRow.id).where(CompoundRow.name == "新苑")
        ).one()
    made = client.post(
        "/site/places", data={"level": "building", "parent": compound_id, "name": "十二号楼"}
    )
    assert made.status_code == 302
    html = client.get("/site").get_data(as_text=True)
    assert "12号楼" in html
    assert "第9网格" in html
    assert "新苑" in html

    renamed = client.post(f"/site/grid/{grid_id}/rename", data={"name": "第十网格"})
    assert renamed.status_code == 302
    assert "第十网格" in client.get("/site").get_data(as_text=True)

    for action in ("site.area_add", "site.grid_add", "site.compound_add", "site.building_add"):
        assert len(site.events(action)) == 1, action
    (rename,) = site.events("site.grid_rename")
    assert '"第9网格"' in rename.details_json
    assert '"第十网格"' in rename.details_json
    assert rename.actor == "s-office"


def test_a_duplicate_name_or_a_missing_parent_is_refused_and_writes_nothing(site: Site) -> None:
    client = site.client()
    building = site.building()
    twice = client.post(
        "/site/places",
        data={"level": "building", "parent": building.compound_id, "name": f"{building.code}栋"},
    )
    assert twice.status_code == 400
    assert "已存在" in twice.get_data(as_text=True)
    orphan = client.post("/site/places", data={"level": "grid", "name": "无主网格"})
    assert orphan.status_code == 400
    assert site.events("site.building_add") == []
    assert site.events("site.grid_add") == []


def test_merging_two_buildings_moves_households_and_their_passes_stay_valid(site: Site) -> None:
    client = site.client()
    building = site.building()
    with transaction(site.compound.sessions) as session:
        twin = Building(compound_id=building.compound_id, code="7号楼", name="7号楼")
        session.add(twin)
        session.flush()
        moved = session.scalars(
            select(Household).where(Household.community_id == site.compound.community_id)
        ).first()
        assert moved is not None
        moved.building_id = twin.id
        twin_id, moved_code = twin.id, moved.code
    html = client.get("/site").get_data(as_text=True)
    assert _households_shown(html, twin_id) == 1
    assert _households_shown(html, building.id) == 2

    answer = client.post("/site/buildings/merge", data={"keep": building.id, "merged": twin_id})
    assert answer.status_code == 302
    html = client.get("/site").get_data(as_text=True)
    assert f'id="building-{twin_id}"' not in html
    assert _households_shown(html, building.id) == 3
    (event,) = site.events("site.building_merge")
    assert '"households": 1' in event.details_json

    resident = next(r for r in site.compound.residents if r.code == moved_code)
    scan = site.compound.scan(site.compound.client(), resident.pass_text, "out")
    assert verdict_of(scan)["allowed"] is True, scan.get_json()


def test_merging_refuses_the_same_building_and_another_communitys(site: Site) -> None:
    client = site.client()
    building = site.building()
    same = client.post("/site/buildings/merge", data={"keep": building.id, "merged": building.id})
    assert same.status_code == 400
    foreign = client.post(
        "/site/buildings/merge", data={"keep": building.id, "merged": site.other_building_id}
    )
    assert foreign.status_code == 400  # not among the choices: nothing of B is touched
    with transaction(site.compound.sessions) as session:
        assert session.get(Building, site.other_building_id) is not None
    assert site.events("site.building_merge") == []


def test_gates_are_added_renamed_closed_and_reopened(site: Site) -> None:
    client = site.client()
    added = client.post("/site/gates", data={"name": "北门", "code": "north"})
    assert added.status_code == 302
    with transaction(site.compound.sessions) as session:
        north = session.scalars(
            select(Gate).where(
                Gate.community_id == site.compound.community_id, Gate.code == "north"
            )
        ).one()
        north_id = north.id
    assert client.post(f"/site/gates/{north_id}/rename", data={"name": "北大门"}).status_code == 302

    south = site.compound.gate_id
    closed = client.post(f"/site/gates/{south}/close", data={"reason": "只留北门"})
    assert closed.status_code == 302
    html = client.get("/site").get_data(as_text=True)
    assert "北大门" in html
    assert re.search(rf'id="gate-{south}".*?data-state="closed"', html, re.S)
    with transaction(site.compound.sessions) as session:
        device = session.get(Device, site.compound.device_id)
        assert device is not None
        assert device.revoked_at is not None
    refused = site.compound.scan(
        site.compound.client(), site.compound.residents[0].pass_text, "out"
    )
    assert refused.status_code in (401, 403)  # the closed gate's scanner is revoked

    devices = client.get("/devices").get_data(as_text=True)
    assert f'<option value="{south}"' not in devices  # no new scanner at a closed gate
    assert f'<option value="{north_id}"' in devices
    at_closed = client.post("/devices", data={"gate": south, "name": "新扫码机"})
    assert at_closed.status_code == 400

    again = client.post(f"/site/gates/{south}/close", data={})
    assert again.status_code == 400
    assert "已经关闭" in again.get_data(as_text=True) or "已关闭" in again.get_data(as_text=True)
    assert client.post(f"/site/gates/{south}/reopen", data={}).status_code == 302
    assert client.post("/devices", data={"gate": south, "name": "新扫码机"}).status_code == 200
    assert [e.action for e in site.events("gate.close")] == ["gate.close"]
    assert len(site.events("gate.reopen")) == 1
    assert len(site.events("gate.rename")) == 1


def test_another_communitys_gate_is_not_found(site: Site) -> None:
    client = site.client()
    with transaction(site.compound.sessions) as session:
        other = session.get(Building, site.other_building_id)
        assert other is not None
        gate = Gate(community_id=other.compound.grid.area.community_id, name="乙门", code="b")
        session.add(gate)
        session.flush()
        gate_id = gate.id
    assert client.post(f"/site/gates/{gate_id}/close", data={}).status_code == 404
    assert client.post(f"/site/gates/{gate_id}/rename", data={"name": "x"}).status_code == 404
    assert (
        client.post(
            f"/site/building/{site.other_building_id}/rename", data={"name": "x"}
        ).status_code
        == 404
    )


def test_site_forms_need_the_csrf_token(site: Site) -> None:
    client = site.client(csrf=True)
    refused = client.post("/site/places", data={"level": "area", "name": "西片区"})
    assert refused.status_code == 400
    token = csrf_token(client, "/site")
    accepted = client.post(
        "/site/places", data={"level": "area", "name": "西片区", "csrf_token": token}
    )
    assert accepted.status_code == 302
    with transaction(site.compound.sessions) as session:
        assert (
            session.scalar(select(func.count()).select_from(Area).where(Area.name == "西片区")) == 1
        )
