"""CLI output in Chinese (issue #12): ``audit verify`` and ``audit checkpoint``, ``rules set``
refusals, ``keys`` refusals: the words come from the UI catalogue (one translation channel),
``--community`` takes a code or an id, and the audit actor is the person, not "cli"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.cli import _register_commands, cli
from gate.db import make_engine

_register_commands()

ENGLISH_WORD = re.compile(r"\b[A-Za-z]{4,}\b")
ALLOWED = {"JSON", "checkpoint", "Error", "keys", "create", "audit", "verify", "intact", "TAMPERED"}


def _english_words(text: str) -> set[str]:
    """Words of four or more Latin letters outside back-ticks, paths, the English echo in
    full-width brackets after a Chinese line (for scripts), and the allow-list."""
    text = re.sub(r"`[^`]*`|/\S+|\S+\.json|[a-z_]+_[a-z_]+|（[ -~]*）", "", text)
    return set(ENGLISH_WORD.findall(text)) - ALLOWED


class Office:
    def __init__(self, directory: Path, url: str) -> None:
        self.directory = directory
        self.url = url
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": url,
        }

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result


@pytest.fixture
def office(tmp_path: Path, fresh_db_url: str) -> Office:
    site = Office(tmp_path, fresh_db_url)
    site("db", "upgrade")
    site("community", "create", "--name", "幸福里社区", "--code", "xfl")
    site("gates", "add", "--name", "南门", "--code", "south")
    return site


def test_audit_verify_and_checkpoint_speak_chinese_and_take_a_community_code(
    office: Office,
) -> None:
    verified = office("audit", "verify", "--community", "xfl")
    assert "正常：出入口 南门" in verified.output
    assert "共 1 个出入口、0 行已核验：记录完整" in verified.output
    assert _english_words(verified.output) == set()
    missing = office("audit", "verify", "--community", "nowhere", code=1)
    assert "nowhere" in missing.output
    assert _english_words(missing.output) == {"nowhere"}

    no_key = office("audit", "checkpoint", "--out", str(office.directory / "cp.json"), code=1)
    assert "没有可用的签名密钥" in no_key.output
    office("keys", "create")
    out = office.directory / "cp.json"
    written = office("audit", "checkpoint", "--out", str(out), "--actor", "auditor-li")
    assert "出入口 south：最后一行 0" in written.output
    assert "检查点已写入" in written.output
    holds = office("audit", "checkpoint", "--verify", str(out))
    assert "核对通过" in holds.output
    engine = make_engine(office.url)
    try:
        with Session(engine) as session:
            actor = session.scalar(
                select(AuditEvent.actor).where(AuditEvent.action == "audit.checkpoint")
            )
    finally:
        engine.dispose()
    assert actor == "auditor-li"
    assert json.loads(out.read_text("utf-8"))["gates"][0]["gate_code"] == "south"


def test_rules_set_refusals_name_the_field_in_chinese(office: Office) -> None:
    bad = office.directory / "rules.json"
    bad.write_text('{"version": 1, "max_out_at_once": 0}', encoding="utf-8")
    refused = office("rules", "set", "--file", str(bad), code=1)
    assert "max_out_at_once" in refused.output
    assert "1 到 99 之间的整数" in refused.output
    assert _english_words(refused.output) == set()
    bad.write_text("{not json", encoding="utf-8")
    garbled = office("rules", "set", "--file", str(bad), code=1)
    assert _english_words(garbled.output) == set()
