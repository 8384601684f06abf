"""Household codes, buildings, units and rooms that could not be opened, edited or issued
through their own link (``3/2/401``, ``..``, control characters) are refused on import and on
the household form, each problem on its row and in Chinese (issue #11, finding 10)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from api_helpers import Compound, build_compound
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.cli.db import db_group
from gate.cli.households import households_group
from gate.community.models import Community
from gate.db import make_engine, session_factory, transaction
from gate.households.models import Household
from gate.households.spreadsheet import COLUMNS
from gate.households.validation import unsafe_text, validate_rows

PASSWORD = "correct-horse-battery"
CHINESE = "不能包含 /、\\、.. 或控制字符，首尾也不能有空格。"
"""The catalogue's wording of ``bad_characters`` (gate/translations, merged from .i18n)."""
HEADERS = {c.key: c.header_zh for c in COLUMNS}
KEYS = ("household_code", "building", "unit", "room", "head_name", "phone")

BAD_VALUES: list[tuple[str, str]] = [
    ("household_code", "3/2/401"),
    ("household_code", ".."),
    ("household_code", "3\\2\\401"),
    ("household_code", "3-2-4\x0701"),
    ("building", "3/4"),
    ("building", ".."),
    ("building", "."),
    ("unit", "1\u200b2"),  # a zero-width space inside survives the trimming of the ends
    ("room", "../401"),
    ("room", "40\x1b1"),
]


def _row(number: int, key: str, value: str) -> dict[str, str]:
    row = {
        "household_code": f"9-1-{100 + number}",
        "building": "9",
        "unit": "1",
        "room": str(100 + number),
        "head_name": "王五",
        "phone": f"139{number:08d}",
    }
    row[key] = value
    return row


def _sheet() -> tuple[str, set[tuple[int, str]]]:
    """A CSV with one bad value per row (sheet rows 2..) and a good last row."""
    lines = [",".join(HEADERS[k] for k in KEYS)]
    expected: set[tuple[int, str]] = set()
    for number, (key, value) in enumerate(BAD_VALUES, start=2):
        lines.append(",".join(_row(number, key, value)[k] for k in KEYS))
        expected.add((number, key))
    lines.append(",".join(_row(99, "room", "199")[k] for k in KEYS))
    return "\n".join(lines) + "\n", expected


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_a_path_or_control_character_is_a_row_error(key: str, value: str) -> None:
    plan = validate_rows([(7, _row(7, key, value))])

    assert [(e.row, e.field, e.code) for e in plan.errors] == [(7, key, "bad_characters")]
    assert plan.valid == []


@pytest.mark.parametrize("value", ["3-2-401", "示例楼", "A座", "1.5", "B1-0101", "3 号楼"])
def test_ordinary_names_are_accepted(value: str) -> None:
    assert not unsafe_text(value)
    assert validate_rows([(2, _row(2, "building", value))]).ok


@pytest.mark.parametrize("value", [" 3", "3 ", "a\u2028b", "a\tb", "a\x00b"])
def test_spaces_at_the_ends_and_separators_are_unsafe(value: str) -> None:
    assert unsafe_text(value)


# --- through the CLI --------------------------------------------------------------------------


@click.group()
def root() -> None:
    """The commands this test needs."""


root.add_command(db_group)
root.add_command(households_group)


def test_the_cli_import_lists_every_bad_value_by_row_in_chinese(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'checkpoint.sqlite3'}"
    env = {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": url,
    }
    runner = CliRunner()
    assert runner.invoke(root, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            session.add(Community(id=350322, name="幸福里社区", code="xfl"))
        text, expected = _sheet()
        sheet = tmp_path / "住户.csv"
        sheet.write_text(text, encoding="utf-8")

        result = runner.invoke(root, ["households", "import", str(sheet)], env=env)

        assert result.exit_code == 1, result.output
        for number, key in expected:
            assert f"第 {number} 行 {HEADERS[key]}：{CHINESE}" in result.output
        reported = {int(n) for n in re.findall(r"^第 (\d+) 行 ", result.output, re.MULTILINE)}
        assert reported == {number for number, _key in expected}
        assert "未导入任何数据" in result.output
        with transaction(session_factory(engine), read_only=True) as session:
            assert session.scalar(select(func.count()).select_from(Household)) == 0
    finally:
        engine.dispose()


# --- through the web --------------------------------------------------------------------------


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    compound = build_compound(db_url, tmp_path, households=1)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
    try:
        yield compound
    finally:
        compound.dispose()


def _client(compound: Compound) -> FlaskClient:
    compound.app.config["WTF_CSRF_ENABLED"] = False
    client = compound.app.test_client()
    answer = client.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert answer.status_code == 302
    return client


def _count(compound: Compound) -> int:
    with transaction(compound.sessions, read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Household)) or 0


def test_the_web_import_preview_lists_every_bad_value_by_row_in_chinese(
    compound: Compound,
) -> None:
    client = _client(compound)
    before = _count(compound)
    text, expected = _sheet()

    answer = client.post(
        "/households/import",
        data={"sheet": (io.BytesIO(text.encode("utf-8")), "住户.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "zh-CN"},
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    shown = re.findall(
        r'<tr><td class="num">(\d+)</td><td data-field="(\w+)">([^<]*)</td><td>([^<]*)</td>', html
    )
    assert {(int(n), key) for n, key, _column, _message in shown} == expected
    for _n, key, column, message in shown:
        assert (column, message) == (HEADERS[key], CHINESE)
    assert "households_import_confirm" not in html
    assert _count(compound) == before


def test_the_household_form_refuses_a_code_or_room_with_a_path(compound: Compound) -> None:
    client = _client(compound)
    form = _row(2, "household_code", "3/2/401")

    created = client.post("/households/new", data=form, headers={"Accept-Language": "zh-CN"})

    assert created.status_code == 400
    assert CHINESE in created.get_data(as_text=True)
    code = compound.residents[0].code
    edited = client.post(
        f"/households/{code}/edit",
        data={**_row(2, "room", "../401"), "household_code": code},
        headers={"Accept-Language": "zh-CN"},
    )
    assert edited.status_code == 400
    assert CHINESE in edited.get_data(as_text=True)
    with transaction(compound.sessions, read_only=True) as session:
        rooms = set(session.scalars(select(Household.room)))
        assert "../401" not in rooms
        assert session.scalar(select(Household).where(Household.code == "3/2/401")) is None
