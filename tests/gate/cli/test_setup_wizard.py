"""``checkpoint setup``: the interactive wizard, fed its answers through standard input.

A bad answer is asked again; declining at the end writes nothing; a completed run creates
the community, its gates, the rules, the administrator and a signing key in one go and
prints the next steps. SQLite and PostgreSQL, on a database with no schema yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.passwords import verify_password
from gate.cli import _register_commands, cli
from gate.community.context import current_rules
from gate.community.models import Community
from gate.db import make_engine
from gate.devices.models import Gate
from gate.rules.templates import RULE_TEMPLATES, template_rules
from gate.signing.models import SigningKeyRecord

_register_commands()

PASSWORD = "correct horse battery"


class Wizard:
    def __init__(self, directory: Path, url: str) -> None:
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": url,
        }
        self.url = url
        self.engine: Engine | None = None

    def __call__(self, *lines: str, code: int = 0) -> Result:
        answers = "".join(f"{line}\n" for line in lines)
        result = CliRunner().invoke(
            cli, ["setup"], env=self.env, input=answers, catch_exceptions=False
        )
        assert result.exit_code == code, result.output
        return result

    def count(self, model: type) -> int:
        self.engine = self.engine or make_engine(self.url)
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def wizard(tmp_path: Path, fresh_db_url: str) -> Iterator[Wizard]:
    run = Wizard(tmp_path, fresh_db_url)
    try:
        yield run
    finally:
        if run.engine is not None:
            run.engine.dispose()


def test_the_wizard_asks_again_on_bad_answers_and_creates_the_site_in_one_go(
    wizard: Wizard,
) -> None:
    result = wizard(
        "",  # no community name: asked again
        "幸福里社区",
        "Mars/Base",  # asked again
        "",  # the default zone (Asia/Shanghai)
        "鲤城区幸福路 1 号",
        "南门",
        "北门",
        "",  # no third gate
        "9",  # no such template: asked again
        "2",  # 两天一出
        "Admin!",  # not a username: asked again
        "wang",
        "王主任",
        "short",
        "short",  # too short: asked again
        PASSWORD,
        PASSWORD,
        "y",
    )
    output = result.output
    assert "小区名称" in output
    assert "时区" in output
    assert "两天一出" in output
    assert "幸福里社区 已设置完成" in output
    for step in ("households import", "passes issue", "passes print", "devices add", "enroll"):
        assert step in output
    engine = make_engine(wizard.url)
    try:
        with Session(engine) as session:
            community = session.scalar(select(Community))
            assert community is not None
            assert (community.name, community.timezone, community.address) == (
                "幸福里社区",
                "Asia/Shanghai",
                "鲤城区幸福路 1 号",
            )
            gates = session.scalars(select(Gate.name).order_by(Gate.id))
            assert list(gates) == ["南门", "北门"]
            rules = current_rules(session, community)
            assert rules.quota == template_rules("two-days", "Asia/Shanghai").quota
            admin = session.scalar(select(User))
            assert admin is not None
            assert (admin.username, admin.role, admin.display_name) == (
                "wang",
                Role.ADMIN,
                "王主任",
            )
            assert verify_password(admin.password_hash, PASSWORD)
            key = session.scalar(select(SigningKeyRecord))
            assert key is not None
            assert key.community_id == community.id
            assert key.private_key_path is not None
            assert Path(key.private_key_path).exists()
    finally:
        engine.dispose()
    # every bad answer was refused on the spot, in Chinese, and asked again
    assert output.count("小区名称:") == 2
    assert "未知的时区 Mars/Base" in output
    assert f"请输入 1 到 {len(RULE_TEMPLATES)} 的编号" in output
    assert "用户名为 2-64 个字符" in output
    assert "密码至少需要 10 个字符" in output


def test_declining_at_the_end_writes_nothing(wizard: Wizard) -> None:
    result = wizard("甲社区", "", "", "南门", "", "1", "admin", "", PASSWORD, PASSWORD, "n")
    assert "什么也没有保存" in result.output
    assert (wizard.count(Community), wizard.count(User), wizard.count(Gate)) == (0, 0, 0)


def test_a_taken_username_is_asked_again(wizard: Wizard) -> None:
    wizard("甲社区", "", "", "南门", "", "1", "admin", "", PASSWORD, PASSWORD, "y")
    result = wizard(
        "乙社区", "", "", "东门", "", "3", "admin", "second", "", PASSWORD, PASSWORD, "y"
    )
    assert "admin" in result.output
    assert (wizard.count(Community), wizard.count(User)) == (2, 2)
