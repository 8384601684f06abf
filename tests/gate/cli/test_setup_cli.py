"""Setting up a site by CLI: community, gates, devices, rules; refusals in Chinese, nothing
half-written, one audit event per change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.cli import _register_commands, cli
from gate.community.models import Community
from gate.db import make_engine
from gate.devices.models import Device, Gate

_register_commands()


class Setup:
    """The ``checkpoint`` command on one fresh database."""

    def __init__(self, directory: Path, url: str) -> None:
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": url,
        }
        self.engine: Engine = make_engine(url)

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    def count(self, model: type) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def actions(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def setup(tmp_path: Path, fresh_db_url: str) -> Iterator[Setup]:
    site = Setup(tmp_path, fresh_db_url)
    site("db", "upgrade")
    try:
        yield site
    finally:
        site.engine.dispose()


def test_a_community_gate_device_and_rules_are_created_and_audited_once_each(
    setup: Setup,
) -> None:
    created = setup("community", "create", "--name", "幸福里小区", "--code", "xfl")
    community_id = created.output.strip().splitlines()[-1]
    setup("gates", "add", "--community", community_id, "--name", "南门", "--code", "south")
    setup("gates", "rename", "--gate", "south", "--name", "南大门")
    device = setup("devices", "add", "--gate", "south").output.strip().splitlines()[-1]
    assert len(device.replace("-", "")) == 10
    setup("rules", "set", "--template", "daily")
    assert "每天可外出一次" in setup("rules", "show").output
    assert setup("gates", "list").output.startswith("south\t南大门")
    assert "待登记" in setup("devices", "list").output
    assert setup.actions() == [
        "community.create",
        "gate.add",
        "gate.rename",
        "device.create",
        "rules.save",
    ]


def test_refusals_are_in_chinese_and_write_nothing(setup: Setup) -> None:
    bad_code = setup("community", "create", "--name", "甲", "--code", "A/B", code=1)
    assert "小区代码" in bad_code.output
    assert (
        "时区"
        in setup("community", "create", "--name", "甲", "--timezone", "Mars/Base", code=1).output
    )
    setup("community", "create", "--name", "甲", "--code", "jia")
    taken = setup("community", "create", "--name", "乙", "--code", "jia", code=1)
    assert "已被占用" in taken.output
    assert "没有出入口" in setup("devices", "add", "--gate", "north", code=1).output
    assert setup.count(Community) == 1
    assert (setup.count(Gate), setup.count(Device)) == (0, 0)
    setup("gates", "add", "--name", "北门", "--code", "north")
    again = setup("gates", "add", "--name", "又一个北门", "--code", "north", code=1)
    assert "已有代码" in again.output
    assert setup.count(Gate) == 1


def test_a_device_can_be_revoked_once(setup: Setup) -> None:
    setup("community", "create", "--name", "甲", "--code", "jia")
    setup("gates", "add", "--name", "南门", "--code", "south")
    setup("devices", "add", "--gate", "south")
    with Session(setup.engine) as session:
        device_id = session.scalar(select(Device.id))
    revoked = setup("devices", "revoke", "--device", str(device_id), "--reason", "丢失")
    assert "已吊销" in revoked.output
    assert (
        "早已吊销"
        in setup("devices", "revoke", "--device", str(device_id), "--reason", "丢失").output
    )
    assert setup.actions().count("device.revoke") == 1
