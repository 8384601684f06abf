"""Overdue returns: an entry of a person out longer than the rules' maximum time outside is
flagged ``returned_late`` on the crossing (by ``passes.decide``, so offline gates flag it
too), can be filtered in the log page, and is a column of every export (page and command)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound, verdict_of
from click.testing import CliRunner
from sqlalchemy import Engine
from web_helpers import log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.cli.crossings import crossings_group
from gate.crossings.export import HEADERS
from gate.db import transaction
from passes import Direction, RuleSet

PASSWORD = "correct-horse-battery"
LIMIT = RuleSet(version=1, timezone="Asia/Shanghai", max_outside_minutes=120)


@dataclass
class LateDay:
    compound: Compound
    late_code: str


@pytest.fixture
def late_day(committed_engine: Engine, db_url: str, tmp_path: Path) -> LateDay:
    """Two households go out at the same time; one is back within two hours, one after."""
    del committed_engine
    compound = build_compound(db_url, tmp_path, households=2, rules=LIMIT)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="a-auditor",
            password=PASSWORD,
            role=Role.AUDITOR,
            actor="test",
        )
    api = compound.client()
    late, on_time = compound.residents
    for resident in (late, on_time):
        assert verdict_of(compound.scan(api, resident.pass_text, Direction.OUT))["allowed"]
    compound.clock.advance(minutes=119)
    back = verdict_of(compound.scan(api, on_time.pass_text, Direction.IN))
    assert back["allowed"]
    assert back["notes"] == []
    compound.clock.advance(minutes=2)
    back = verdict_of(compound.scan(api, late.pass_text, Direction.IN))
    assert back["allowed"]
    assert back["notes"] == ["returned_late"]
    return LateDay(compound, late.code)


def test_the_log_page_filters_late_returns_and_badges_them(late_day: LateDay) -> None:
    client = late_day.compound.client()
    answer = log_in(client, "a-auditor", PASSWORD)
    assert answer.status_code == 302
    everything = client.get("/log").get_data(as_text=True)
    late_only = client.get("/log", query_string={"late": "y"}).get_data(as_text=True)
    assert everything.count("data-id=") == 4
    assert late_only.count("data-id=") == 1
    assert late_day.late_code in late_only
    assert "超时返回" in late_only  # the badge and the filter, in Chinese


def test_the_export_command_flags_late_returns_and_takes_late_only(
    late_day: LateDay, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    day = late_day.compound.clock().astimezone(LIMIT.zone).date().isoformat()
    base = ["export", "--from", day, "--to", day, "--format", "csv"]
    base += ["--community", str(late_day.compound.community_id)]
    runner = CliRunner()
    every, late = tmp_path / "all.csv", tmp_path / "late.csv"
    assert runner.invoke(crossings_group, [*base, "--out", str(every)]).exit_code == 0
    result = runner.invoke(crossings_group, [*base, "--out", str(late), "--late-only"])
    assert result.exit_code == 0, result.output

    column = HEADERS.index("超时返回")
    rows = list(csv.reader(io.StringIO(every.read_text(encoding="utf-8-sig"))))
    assert [row[column] for row in rows[1:]] == ["否", "否", "否", "是"]
    late_rows = list(csv.reader(io.StringIO(late.read_text(encoding="utf-8-sig"))))[1:]
    assert [(row[HEADERS.index("户编号")], row[column]) for row in late_rows] == [
        (late_day.late_code, "是")
    ]
