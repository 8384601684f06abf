"""The office CLI end to end on a temporary SQLite database: import, passes, status, keys."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from gate.audit.models import AuditEvent
from gate.cli.db import db_group
from gate.cli.households import households_group
from gate.cli.issuing import passes_group
from gate.cli.signing import keys_group
from gate.community.models import Community
from gate.db import make_engine, session_factory, transaction
from gate.households.models import Household
from gate.households.spreadsheet import COLUMNS
from gate.households.validation import id_check_digit
from gate.issuing.models import IssuedPass, PassStatus
from gate.signing.models import SigningKeyRecord
from passes import KeyStatus

HEADER = [c.header_zh for c in COLUMNS]


@click.group()
def root() -> None:
    """What gate/cli.py registers, plus the households group."""


for _group in (db_group, keys_group, passes_group, households_group):
    root.add_command(_group)


class Office:
    """A CLI runner bound to one temporary instance directory and SQLite database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = f"sqlite:///{directory / 'checkpoint.sqlite3'}"
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": self.url,
            "CHECKPOINT_SECRET_KEY": "k" * 48,  # stable across invocations: ID hashes compare
        }
        self.runner = CliRunner()
        self.engine: Engine = make_engine(self.url)

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(root, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    def count(self, model: type, *where: object) -> int:
        with transaction(session_factory(self.engine), read_only=True) as session:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    def audit(self, action: str) -> list[AuditEvent]:
        with transaction(session_factory(self.engine), read_only=True) as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
    try:
        yield office
    finally:
        office.engine.dispose()


def make_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


def register(count: int, bad_every: int = 0) -> tuple[list[list[str]], set[int]]:
    """``count`` data rows (sheet rows 2..count+1); every ``bad_every``-th row is bad."""
    rows: list[list[str]] = []
    bad: set[int] = set()
    problems = ["phone", "head_name", "id_number", "status", "members", "duplicate"]
    for i in range(count):
        building = i % 10 + 1
        values = {
            "household_code": f"{building}-{(i // 10) % 2 + 1}-{101 + i // 20}",
            "area": "一片区",
            "grid": f"第{(building - 1) // 4 + 1}网格",
            "building": str(building),
            "unit": str((i // 10) % 2 + 1),
            "room": str(101 + i // 20),
            "head_name": "张三",
            "phone": f"138{i:08d}",
            "id_number": make_id(f"3505241990010{i % 9 + 1}{i:03d}"),
            "members": "3",
            "status": "正常",
        }
        if bad_every and (i + 1) % bad_every == 0:
            problem = problems[len(bad) % len(problems)]
            if problem == "duplicate":
                values["household_code"] = rows[-1][0]
            elif problem == "id_number":
                digits = values["id_number"]
                values["id_number"] = digits[:-1] + ("0" if digits[-1] != "0" else "1")
            else:
                values[problem] = {"phone": "12345", "head_name": "", "status": "外出"}.get(
                    problem, "0"
                )
            bad.add(i + 2)
        rows.append([values.get(c.key, "") for c in COLUMNS])
    return rows, bad


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def write_gbk_csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *rows])
    path.write_bytes(buffer.getvalue().encode("gbk"))
    return path


def reported_rows(output: str) -> set[int]:
    return {int(n) for n in re.findall(r"^第 (\d+) 行 ", output, flags=re.MULTILINE)}


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_thousand_rows_with_twenty_bad_import_all_or_nothing_then_idempotently(
    office: Office, tmp_path: Path, kind: str
) -> None:
    rows, bad = register(1000, bad_every=50)
    assert len(bad) == 20
    writer = write_xlsx if kind == "xlsx" else write_gbk_csv
    sheet = writer(tmp_path / f"住户.{kind}", rows)

    refused = office("households", "import", str(sheet), code=1)
    assert reported_rows(refused.output) == bad
    assert "未导入任何数据" in refused.output
    assert office.count(Household) == 0
    assert office.audit("household.import") == []

    written = office("households", "import", str(sheet), "--skip-bad", "--actor", "clerk")
    assert reported_rows(written.output) == bad
    assert "新增 980 户，更新 0 户" in written.output
    assert office.count(Household) == 980
    assert [e.actor for e in office.audit("household.import")] == ["clerk"]

    again = office("households", "import", str(sheet), "--skip-bad")
    assert "新增 0 户，更新 0 户，未变 980 户" in again.output
    assert office.count(Household) == 980


def test_english_messages_and_dry_run(office: Office, tmp_path: Path) -> None:
    rows, bad = register(30, bad_every=10)
    sheet = write_xlsx(tmp_path / "h.xlsx", rows)

    result = office("households", "import", str(sheet), "--dry-run", "--lang", "en", code=1)

    lines = [line for line in result.output.splitlines() if line.startswith("Row ")]
    assert {int(line.split()[1]) for line in lines} == bad
    assert "Row 11 phone: " in result.output
    assert "Dry run (nothing written): 30 rows, 27 created" in result.output
    assert office.count(Household) == 0


def test_issue_all_over_a_thousand_households_shows_progress(
    office: Office, tmp_path: Path
) -> None:
    rows, _ = register(1000)
    office("households", "import", str(write_gbk_csv(tmp_path / "h.csv", rows)))
    office("keys", "create")

    result = office("passes", "issue", "--all", "--actor", "clerk")

    assert "签发" in result.stderr
    assert "已签发 1000 张出入证。" in result.output
    assert office.count(IssuedPass) == 1000
    assert len(office.audit("pass.issue")) == 1000
    again = office("passes", "issue", "--all")
    assert "已签发 0 张出入证。" in again.output
    assert "1000 户已有有效出入证，未重复签发" in again.output


def test_passes_lifecycle_from_the_cli_is_audited(office: Office, tmp_path: Path) -> None:
    rows, _ = register(20)  # buildings 1..10, two households each
    office("households", "import", str(write_xlsx(tmp_path / "h.xlsx", rows)))
    office("keys", "create", "--actor", "clerk")
    office("passes", "issue", "--building", "1", "--actor", "clerk")
    office("passes", "issue", "--household", "2-1-101", "--household", "3-1-101")
    assert office.count(IssuedPass) == 4

    pdf = tmp_path / "b1.pdf"
    printed = office("passes", "print", "--out", str(pdf), "--grid", "第1网格", "--actor", "clerk")
    assert "已将 4 张出入证（共 1 页）写入" in printed.output
    assert "4 户没有有效出入证" in printed.output  # buildings 2-4 minus issued
    assert len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf.read_bytes())) == 1
    png = tmp_path / "card.png"
    office("passes", "card", "--household", "1-1-101", "--out", str(png), "--actor", "clerk")
    assert png.read_bytes().startswith(b"\x89PNG")

    office("passes", "reissue", "--household", "1-1-101", "--reason", "卡丢失", "--actor", "clerk")
    superseded = office.count(IssuedPass, IssuedPass.status == PassStatus.SUPERSEDED)
    assert superseded == 1
    with transaction(session_factory(office.engine), read_only=True) as session:
        manual = session.scalar(
            select(IssuedPass.manual_code).where(IssuedPass.status == PassStatus.ACTIVE).limit(1)
        )
    assert manual is not None
    office("passes", "revoke", "--manual-code", manual, "--reason", "搬离", "--actor", "clerk")
    office("passes", "revoke", "--household", "2-1-101", "--reason", "搬离", "--actor", "clerk")
    assert office.count(IssuedPass, IssuedPass.status == PassStatus.REVOKED) == 2
    office("passes", "revoke", "--household", "2-1-101", "--reason", "again", code=1)

    for action in ("pass.issue", "pass.print", "pass.card", "pass.reissue", "pass.revoke"):
        assert office.audit(action), action
    [reissued] = office.audit("pass.reissue")
    assert (reissued.actor, reissued.reason) == ("clerk", "卡丢失")
    [printed_event] = office.audit("pass.print")
    assert json.loads(printed_event.details_json)["pages"] == 1
    assert {e.reason for e in office.audit("pass.revoke")} == {"搬离"}


def test_household_status_commands_are_audited(office: Office, tmp_path: Path) -> None:
    rows, _ = register(2)
    office("households", "import", str(write_xlsx(tmp_path / "h.xlsx", rows)))

    office(
        "households", "quarantine", "1-1-101", "--until", "2099/11/30", "--reason", "密接",
        "--actor", "clerk",
    )  # fmt: skip
    office("households", "exempt", "2-1-101", "--reason", "保供人员")
    office("households", "normal", "1-1-101", "--reason", "期满")
    office("households", "quarantine", "1-1-101", "--until", "someday", "--reason", "x", code=2)
    office("households", "normal", "9-9-999", "--reason", "x", code=1)

    [quarantined] = office.audit("household.quarantine")
    assert (quarantined.actor, quarantined.reason) == ("clerk", "密接")
    assert json.loads(quarantined.details_json)["until_local_date"] == "2099-11-30"
    assert [e.reason for e in office.audit("household.exempt")] == ["保供人员"]
    assert office.audit("household.normal")[0].actor.startswith("cli:")


def test_registered_keys_create_retire_revoke(office: Office) -> None:
    created = office("keys", "create")
    assert "创建签名密钥 1" in created.output
    office("keys", "create")
    office("keys", "retire", "1")
    again = office("keys", "retire", "1", code=1)
    assert "密钥 1" in again.output
    revoked = office("keys", "revoke", "2", "--reason", "leaked")
    assert "密钥 2 已吊销" in revoked.output
    assert "no active signing key left" in revoked.stderr
    unknown = office("keys", "revoke", "9", "--reason", "x", code=1)
    assert "没有编号为 9 的签名密钥" in unknown.output

    statuses = {KeyStatus.RETIRED: 1, KeyStatus.REVOKED: 1}
    for status, expected in statuses.items():
        assert office.count(SigningKeyRecord, SigningKeyRecord.status == status) == expected
    assert len(office.audit("key.create")) == 2
    assert office.audit("key.revoke")[0].reason == "leaked"
    assert list((office.directory / "keys").glob("signing-key-*.json"))


def test_several_communities_need_the_community_option(office: Office) -> None:
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=2, name="第二社区", code="second"))

    result = office("keys", "create", code=1)
    assert "--community" in result.output

    office("keys", "create", "--community", "second")
    assert office.count(SigningKeyRecord, SigningKeyRecord.community_id == 2) == 1


def test_commands_refuse_a_database_without_schema(tmp_path: Path) -> None:
    office = Office(tmp_path)
    result = office("households", "exempt", "1-1-1", "--reason", "x", code=1)
    assert "checkpoint db upgrade" in result.output
    office.engine.dispose()


@pytest.mark.parametrize(
    "command",
    [
        ["households", "import"],
        ["households", "template"],
        ["households", "quarantine"],
        ["households", "exempt"],
        ["households", "normal"],
        ["passes", "issue"],
        ["passes", "reissue"],
        ["passes", "revoke"],
        ["passes", "print"],
        ["passes", "card"],
        ["keys", "create"],
        ["keys", "retire"],
        ["keys", "revoke"],
    ],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(root, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: checkpoint " + " ".join(command) in result.output


def test_template_command_writes_an_importable_header(office: Office, tmp_path: Path) -> None:
    path = tmp_path / "模板.xlsx"
    office("households", "template", str(path))
    refused = office("households", "import", str(path), code=1)
    assert reported_rows(refused.output) == {2, 3, 4}  # the example rows are refused


def test_retiring_a_key_removes_its_private_file_after_an_optional_offline_backup(
    office: Office, tmp_path: Path
) -> None:
    office("keys", "create")
    office("keys", "create")
    keys_dir = office.directory / "keys"
    assert (keys_dir / "signing-key-1.json").exists()
    backup = tmp_path / "usb" / "signing-key-1.json"
    backup.parent.mkdir()
    office("keys", "retire", "1", "--backup-to", str(backup))
    assert not (keys_dir / "signing-key-1.json").exists()
    assert backup.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" in backup.read_text() or "private" in backup.read_text()
    office("keys", "retire", "2", "--backup-to", str(backup), code=1)  # never overwrites
    assert (keys_dir / "signing-key-2.json").exists()
    [event] = office.audit("key.retire")
    assert event.details_json is not None
    assert "removed" in event.details_json
