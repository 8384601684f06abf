"""``checkpoint supervisors issue|list|print|revoke`` end to end on a temporary SQLite file:
the card printed (PNG and PDF) carries a QR that decodes to a card the community's keys
verify; revoking it is audited and shown by ``list``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import test_cli_registry as registry
from PIL import Image
from test_cli_registry import Office

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.cli.supervisors import supervisors_group
from gate.community.models import Community
from gate.db import session_factory, transaction

zxingcpp = pytest.importorskip("zxingcpp")
registry.root.add_command(supervisors_group)

NUMBER = re.compile(r"\b([0-9A-F]{8})\b")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
        session.flush()
        for username, role in (("wang.sup", Role.SUPERVISOR), ("li.office", Role.OFFICE)):
            create_user(
                session,
                community_id=350322,
                username=username,
                password="correct horse battery staple",
                role=role,
                actor="test",
                display_name="王主任" if role is Role.SUPERVISOR else "李文员",
            )
    office("keys", "create")
    try:
        yield office
    finally:
        office.engine.dispose()


def test_help_names_the_commands_with_chinese_and_english_examples(office: Office) -> None:
    text = office("supervisors", "--help").output
    for word in ("issue", "list", "print", "revoke", "发放主管卡", "Example"):
        assert word in text
    for command in ("issue", "list", "print", "revoke"):
        helptext = office("supervisors", command, "--help").output
        assert "示例" in helptext
        assert "Example: checkpoint supervisors" in helptext


def test_issue_writes_a_card_whose_qr_is_a_valid_card_then_revoke_and_list(
    office: Office, tmp_path: Path
) -> None:
    png = tmp_path / "王主任.png"
    issued = office("supervisors", "issue", "--user", "wang.sup", "--days", "90", "--out", str(png))
    assert "wang.sup" in issued.output
    number = NUMBER.search(issued.output)
    assert number is not None
    image = np.asarray(Image.open(png).convert("L"))
    texts = [result.text for result in zxingcpp.read_barcodes(image)]
    assert len(texts) == 1
    assert texts[0].startswith("SV1:")
    assert f"{number.group(1)}\twang.sup\t王主任" in office("supervisors", "list").output

    pdf = tmp_path / "card.pdf"
    office("supervisors", "print", "--card", number.group(1), "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    assert len(office.audit("supervisor_card.issue")) == 1
    assert len(office.audit("supervisor_card.print")) == 2

    revoked = office("supervisors", "revoke", "--card", number.group(1), "--reason", "遗失")
    assert number.group(1) in revoked.output
    assert "已作废" in office("supervisors", "list").output
    [event] = office.audit("supervisor_card.revoke")
    assert event.reason == "遗失"
    again = office("supervisors", "revoke", "--card", number.group(1), "--reason", "x", code=1)
    assert "已经作废" in again.output


def test_an_account_without_the_supervisor_role_gets_no_card_and_is_told_why(
    office: Office,
) -> None:
    result = office("supervisors", "issue", "--user", "li.office", code=1)
    assert "li.office" in result.output
    assert office.audit("supervisor_card.issue") == []
    missing = office("supervisors", "revoke", "--card", "DEADBEEF", "--reason", "x", code=1)
    assert "DEADBEEF" in missing.output
