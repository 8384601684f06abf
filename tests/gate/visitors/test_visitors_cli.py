"""``checkpoint visitors issue|list|print|revoke|walk-ins`` end to end on a temporary SQLite
file: the QR written decodes to a visitor pass the community's keys verify; phones are masked
in every line; bad input exits non-zero with a message and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import Engine, select

from gate.audit.models import AuditEvent
from gate.cli.db import db_group
from gate.cli.signing import keys_group
from gate.cli.visitors import visitors_group
from gate.community.context import load_context
from gate.community.models import Community
from gate.db import make_engine, session_factory, transaction
from gate.visitors.models import VisitorPassRecord
from passes import VerifiedVisitorPass, verify_visitor_pass

zxingcpp = pytest.importorskip("zxingcpp")


@click.group()
def root() -> None:
    """The commands under test."""


for _group in (db_group, keys_group, visitors_group):
    root.add_command(_group)


class Office:
    """A CLI runner bound to one temporary instance directory and SQLite database."""

    def __init__(self, directory: Path) -> None:
        url = f"sqlite:///{directory / 'checkpoint.sqlite3'}"
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": url,
            "CHECKPOINT_SECRET_KEY": "k" * 48,
        }
        self.engine: Engine = make_engine(url)

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(root, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result


NUMBER = re.compile(r"访客通行证 ([0-9A-F]{8})")
COMMUNITY = 350323


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=COMMUNITY, name="幸福里社区", code="xfl"))
    office("keys", "create")
    try:
        yield office
    finally:
        office.engine.dispose()


def test_help_is_chinese_with_examples(office: Office) -> None:
    assert "访客通行证" in office("visitors", "--help").output
    for command in ("issue", "list", "print", "revoke", "walk-ins"):
        assert "示例" in office("visitors", command, "--help").output


def test_issue_writes_a_qr_that_verifies_then_list_print_and_revoke(
    office: Office, tmp_path: Path
) -> None:
    png = tmp_path / "访客证.png"
    issued = office(
        "visitors", "issue", "--name", "王五", "--purpose", "探望老人",
        "--phone", "13812345678", "--plate", "鲁E12345", "--out", str(png),
    )  # fmt: skip
    assert "王*" in issued.output
    assert "138****5678" in issued.output
    assert "13812345678" not in issued.output
    found = NUMBER.search(issued.output)
    assert found is not None
    number = found.group(1)
    (decoded,) = zxingcpp.read_barcodes(np.asarray(Image.open(png).convert("L")))
    with transaction(session_factory(office.engine), read_only=True) as session:
        context = load_context(session, COMMUNITY)
        check = verify_visitor_pass(decoded.text, context.keys, community_id=COMMUNITY)
        assert isinstance(check, VerifiedVisitorPass)
        assert check.fields.single_use
    listed = office("visitors", "list").output
    assert number in listed
    assert "有效" in listed
    assert "138****5678" in listed
    again = tmp_path / "again.png"
    office("visitors", "print", "--number", number, "--out", str(again))
    assert again.read_bytes() == png.read_bytes()
    assert "已作废" in office("visitors", "revoke", "--number", number, "--reason", "取消").output
    assert "已作废" in office("visitors", "list").output
    twice = office("visitors", "revoke", "--number", number, "--reason", "取消", code=1)
    assert number in twice.output
    with transaction(session_factory(office.engine), read_only=True) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"visitor_pass.issue", "visitor_pass.print", "visitor_pass.revoke"} <= actions


@pytest.mark.parametrize(
    "extra",
    [
        ("--phone", "12"),
        ("--plate", "ABC"),
        ("--hours", "0"),
        ("--from", "明天"),
    ],
)
def test_bad_input_exits_non_zero_and_writes_nothing(
    office: Office, extra: tuple[str, str]
) -> None:
    result = office("visitors", "issue", "--name", "王五", "--purpose", "探望", *extra, code=1)
    assert result.output.strip()
    with transaction(session_factory(office.engine), read_only=True) as session:
        assert session.scalars(select(VisitorPassRecord)).all() == []


def test_walk_ins_list_is_empty_in_chinese(office: Office) -> None:
    assert "没有无证人员登记" in office("visitors", "walk-ins").output
