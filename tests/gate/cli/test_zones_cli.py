"""``checkpoint zones`` end to end on a temporary SQLite file: seal a building by its codes,
list it with its households, extend it, lift it; a grid by name; refusals (no such place, two
places, a bad level or date, an empty period, lifting twice) exit non-zero and write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import test_cli_registry as registry
from factories import make_household
from sqlalchemy import func, select
from test_cli_registry import Office

from gate.cli.zones import zones_group
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.db import session_factory, transaction
from gate.zones.models import ZoneLockRecord

registry.root.add_command(zones_group)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        community = Community(id=350322, name="幸福里社区", code="xfl")
        area = Area(community=community, name="东片", code="E")
        grid = Grid(area=area, name="第一网格", code="G1")
        compound = Compound(grid=grid, name="幸福里", code="P1")
        for code in ("3", "4"):
            building = Building(compound=compound, name=f"{code}号楼", code=code)
            session.add(building)
            session.flush()
            make_household(session, community=community, building=building)
    try:
        yield office
    finally:
        office.engine.dispose()


def _day(days: int) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=days)


def _rows(office: Office, *args: str) -> list[list[str]]:
    output = office("zones", "list", *args).output
    return [line.split("\t") for line in output.splitlines() if "\t" in line][1:]


def _count(office: Office) -> int:
    with transaction(session_factory(office.engine), read_only=True) as session:
        return session.scalar(select(func.count()).select_from(ZoneLockRecord)) or 0


def test_help_is_chinese_with_examples_for_every_command(office: Office) -> None:
    text = office("zones", "--help").output
    assert "封控" in text
    assert "Example" in text
    for command in ("lock", "list", "lift", "extend"):
        assert "示例" in office("zones", command, "--help").output


def test_seal_a_building_list_extend_and_lift_it(office: Office) -> None:
    office(
        "zones", "lock", "--level", "封控", "--building", "P1-3", "--until", _day(9).isoformat(),
        "--reason", "发现阳性病例",
    )  # fmt: skip
    [row] = _rows(office)
    assert row[1:4] == ["封控", "楼栋", "幸福里 3号楼"]
    assert row[5] == _day(9).isoformat()
    assert (row[6], row[7]) == ("生效中", "1")
    office("zones", "extend", "--lock", row[0], "--until", _day(16).isoformat())
    assert _rows(office)[0][5] == _day(16).isoformat()
    office("zones", "lift", "--lock", row[0])
    assert _rows(office) == []
    assert _rows(office, "--all")[0][6] == "已结束"
    office("zones", "lift", "--lock", row[0], code=1)


def test_a_grid_by_name_until_lifted(office: Office) -> None:
    office("zones", "lock", "--level", "controlled", "--grid", "第一网格")
    [row] = _rows(office)
    assert row[1:4] == ["管控", "网格", "第一网格"]
    assert (row[5], row[7]) == ("直到解除", "2")


@pytest.mark.parametrize(
    "args",
    [
        ("--level", "封控", "--building", "P1-9"),
        ("--level", "封控", "--building", "P1-3", "--grid", "G1"),
        ("--level", "全封", "--grid", "G1"),
        ("--level", "封控", "--grid", "G1", "--until", "12-14"),
        ("--level", "封控", "--grid", "G1", "--from", "2099-12-10", "--until", "2099-12-01"),
    ],
)
def test_bad_input_exits_non_zero_and_writes_nothing(office: Office, args: tuple[str, ...]) -> None:
    office("zones", "lock", *args, code=1)
    assert _count(office) == 0
