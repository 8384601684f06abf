"""``checkpoint roster`` end to end on a temporary SQLite file: plan a week at a gate, put an
account and a free-text volunteer on a shift, list it, see today's gaps (exit code 1), copy
the week, export it to Excel, take someone off, remove a future shift; refusals exit non-zero
and write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import test_cli_registry as registry
from openpyxl import load_workbook
from test_cli_registry import Office

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.cli.roster import roster_group
from gate.community.models import Community
from gate.db import session_factory, transaction
from gate.devices.models import Gate
from gate.roster.models import DutyAssignment, DutyShift

registry.root.add_command(roster_group)

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
        session.flush()
        session.add(Gate(community_id=350322, name="南门", code="south"))
        for username, role, name in (
            ("zhang.vol", Role.VOLUNTEER, "张三"),
            ("wang.sup", Role.SUPERVISOR, "王主任"),
        ):
            create_user(
                session,
                community_id=350322,
                username=username,
                password="correct horse battery staple",
                role=role,
                actor="test",
                display_name=name,
            )
    try:
        yield office
    finally:
        office.engine.dispose()


def _today() -> str:
    return datetime.now(UTC).astimezone(SH).date().isoformat()


def _rows(office: Office, *args: str) -> list[list[str]]:
    output = office("roster", "list", *args).output
    return [line.split("\t") for line in output.splitlines() if "\t" in line]


def test_help_is_chinese_with_examples_for_every_command(office: Office) -> None:
    text = office("roster", "--help").output
    assert "值守排班" in text
    assert "Example" in text
    commands = (
        "plan",
        "copy-week",
        "list",
        "assign",
        "unassign",
        "remove",
        "now",
        "gaps",
        "export",
    )
    for command in commands:
        helptext = office("roster", command, "--help").output
        assert "示例" in helptext, command
        assert "Example: checkpoint roster" in helptext, command


def test_a_week_planned_staffed_listed_copied_exported_and_its_gaps(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = _today()
    # The commands' "now" is 09:00 local today, whatever the hour the test runs at: `now`
    # then names the morning shift's people and `gaps` still has the afternoon's to report.
    nine = datetime.fromisoformat(today).replace(hour=9, tzinfo=SH).astimezone(UTC)
    monkeypatch.setattr("gate.cli.roster._now", lambda: nine)
    office(
        "roster", "plan", "--gate", "south", "--from", today, "--days", "7",
        "--slots", "00:00-12:00,12:00-24:00",
    )  # fmt: skip
    assert office.count(DutyShift) == 14
    rows = _rows(office, "--week", today)
    todays = [row for row in rows if row[2] == today]
    assert len(todays) == 2
    assert all(row[9] == "无人值守" for row in todays)
    first, second = todays[0][0], todays[1][0]

    office("roster", "assign", "--shift", first, "--user", "zhang.vol")
    office("roster", "assign", "--shift", first, "--name", "李四（党员先锋队）")
    office("roster", "assign", "--shift", first, "--user", "wang.sup", "--supervisor")
    row = next(row for row in _rows(office, "--week", today) if row[0] == first)
    assert row[6:8] == ["张三、李四（党员先锋队）", "王主任"]
    assert row[9] == "已安排"

    gaps = office("roster", "gaps", code=1).output
    assert second in gaps
    assert first not in gaps.split("\t")[0]

    office("roster", "copy-week", "--from", today, "--to", _in_days(today, 7))
    copied = [r for r in _rows(office, "--week", _in_days(today, 7)) if r[6:8] != ["-", "-"]]
    assert copied
    assert copied[0][6] == "张三、李四（党员先锋队）"

    out = tmp_path / "排班表.xlsx"
    office("roster", "export", "--week", today, "--out", str(out))
    sheet = load_workbook(out).active
    assert sheet is not None
    values = list(sheet.values)
    assert values[0][:3] == ("班次编号", "出入口", "日期")
    assert any(v[6] == "张三、李四（党员先锋队）" and v[10] == "covered" for v in values[1:])
    assert len(office.audit("roster.export")) == 1

    office("roster", "unassign", "--shift", first, "--name", "李四（党员先锋队）")
    assert office.count(DutyAssignment, DutyAssignment.shift_id == int(first)) == 2
    assert "张三" in office("roster", "now").output


def _in_days(day: str, days: int) -> str:
    return (datetime.fromisoformat(day) + timedelta(days=days)).date().isoformat()


def test_refusals_exit_non_zero_and_write_nothing(office: Office) -> None:
    bad = office("roster", "plan", "--gate", "south", "--slots", "早班", code=1)
    assert "Error" in bad.output
    office("roster", "plan", "--gate", "north", "--slots", "06:00-14:00", code=1)
    office("roster", "plan", "--gate", "south", "--from", "12/07", "--slots", "06:00-14:00", code=1)
    assert office.count(DutyShift) == 0
    office("roster", "plan", "--gate", "south", "--days", "1", "--slots", "06:00-14:00")
    ((shift, *_rest),) = _rows(office)
    office("roster", "assign", "--shift", shift, "--user", "zhang.vol", "--supervisor", code=1)
    office("roster", "assign", "--shift", shift, "--user", "nobody", code=1)
    office("roster", "assign", "--shift", "9999", "--name", "张三", code=1)
    office("roster", "unassign", "--shift", shift, "--name", "不在班上", code=1)
    assert office.count(DutyAssignment) == 0
    assert office.audit("roster.assign") == []
    tomorrow = _in_days(_today(), 1)
    office("roster", "plan", "--gate", "south", "--from", tomorrow, "--days", "1",
           "--slots", "08:00-09:00")  # fmt: skip
    future = next(r for r in _rows(office, "--week", tomorrow) if r[2] == tomorrow)[0]
    office("roster", "remove", "--shift", future)
    assert len(office.audit("roster.remove")) == 1
