"""``checkpoint errands`` end to end on a committed database (SQLite and PostgreSQL): a squad,
a request, assignment, a volunteer's accept and delivery, listing, cancelling, the Excel
export; refusals exit non-zero with nothing written; every command has Chinese --help."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound
from click.testing import CliRunner, Result
from errand_site import errand_compound, errands, events, said
from openpyxl import load_workbook
from sqlalchemy import Engine

from gate.cli.errands import errands_group
from gate.db import transaction
from gate.errands.models import ErrandStatus
from gate.errands.queries import grids


@pytest.fixture
def compound(
    committed_engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Compound]:
    with errand_compound(db_url, tmp_path / "app", open_ended=True) as built:
        monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
        monkeypatch.setenv("CHECKPOINT_ENV", "test")
        monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "cli"))
        yield built


def _run(compound: Compound, *args: str) -> Result:
    common = ["--community", str(compound.community_id)]
    command, *rest = args
    return CliRunner().invoke(errands_group, [command, *common, *rest])


def test_a_request_goes_from_the_office_to_a_squad_member_and_is_delivered(
    compound: Compound, tmp_path: Path
) -> None:
    code = compound.residents[0].code
    squad = _run(compound, "squads", "--name", "党员先锋队A组", "--members", "vol1,vol2")
    assert squad.exit_code == 0, squad.output
    assert "党员先锋队A组" in squad.output
    assert "李阿姨(vol1)" in squad.output
    added = _run(
        compound,
        "add",
        "--household",
        code,
        "--kind",
        "medicine",
        "--items",
        "降压药,体温计",
        "--squad",
        "党员先锋队A组",
        "--actor",
        "office1",
    )
    assert added.exit_code == 0, added.output
    (errand,) = errands(compound)
    number = str(errand.id)
    mine = _run(compound, "list", "--user", "vol2", "--mine")
    assert mine.exit_code == 0, mine.output
    assert mine.output.startswith(number + "\t" + code)
    assert "降压药、体温计" in mine.output
    accepted = _run(compound, "accept", number, "--user", "vol2")
    assert accepted.exit_code == 0, accepted.output
    wrong = _run(compound, "deliver", number, "--user", "vol1")
    assert wrong.exit_code != 0
    delivered = _run(compound, "deliver", number, "--user", "vol2", "--note", "已放门口")
    assert delivered.exit_code == 0, delivered.output
    assert errands(compound)[0].status is ErrandStatus.DELIVERED
    listed = _run(compound, "list", "--status", "delivered")
    assert listed.output.startswith(number)
    assert _run(compound, "list", "--status", "new").exit_code == 0

    out = tmp_path / "代购代办.xlsx"
    exported = _run(compound, "export", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(load_workbook(io.BytesIO(out.read_bytes())).active.iter_rows(values_only=True))
    assert rows[1][0] == errand.id
    assert rows[1][4] == "medicine"
    assert rows[1][8] == "delivered"
    assert rows[1][15] == "已放门口"
    assert [action for action, _ in events(compound)] == [
        "errand.squad_create",
        "errand.create",
        "errand.accept",
        "errand.deliver",
        "errand.export",
    ]


def test_refusals_exit_non_zero_in_words_and_write_nothing(compound: Compound) -> None:
    other = compound.residents[1].code
    refused = _run(compound, "add", "--household", other, "--kind", "groceries", "--text", "菜")
    assert refused.exit_code == 1
    assert said(refused.output, "is not in home quarantine")
    no_runner = _run(
        compound,
        "add",
        "--household",
        compound.residents[0].code,
        "--kind",
        "rubbish",
        "--user",
        "nobody",
    )
    assert no_runner.exit_code == 1
    assert "nobody" in no_runner.output
    assert _run(compound, "cancel", "999999", "--reason", "x").exit_code == 1
    assert _run(compound, "list", "--squad", "没有").exit_code == 1
    assert errands(compound) == []
    assert events(compound) == []


def test_cancel_and_reassign(compound: Compound) -> None:
    code = compound.residents[0].code
    assert _run(compound, "add", "--household", code, "--kind", "rubbish").exit_code == 0
    number = str(errands(compound)[0].id)
    assert _run(compound, "assign", number, "--user", "vol1").exit_code == 0
    assert _run(compound, "accept", number, "--user", "vol1").exit_code == 0
    assert _run(compound, "assign", number, "--user", "vol2").exit_code == 0
    row = errands(compound)[0]
    assert (row.status, row.accepted_by_user_id) == (ErrandStatus.NEW, None)
    cancelled = _run(compound, "cancel", number, "--reason", "已解除隔离")
    assert cancelled.exit_code == 0, cancelled.output
    assert errands(compound)[0].cancel_reason == "已解除隔离"
    assert _run(compound, "accept", number, "--user", "vol2").exit_code == 1


@pytest.mark.parametrize(
    "command", ["", "add", "list", "assign", "accept", "deliver", "cancel", "export", "squads"]
)
def test_every_command_has_chinese_help_with_an_example(command: str) -> None:
    answer = CliRunner().invoke(errands_group, [*([command] if command else []), "--help"])
    assert answer.exit_code == 0
    assert "checkpoint errands" in answer.output
    assert any("\u4e00" <= char <= "\u9fff" for char in answer.output.split("Options")[0])


def test_the_grid_filter_takes_the_grid_by_name(compound: Compound, tmp_path: Path) -> None:
    code = compound.residents[0].code
    added = _run(compound, "add", "--household", code, "--kind", "medicine", "--text", "降压药")
    assert added.exit_code == 0, added.output
    with transaction(compound.sessions, read_only=True) as session:
        grid = grids(session, compound.community_id)[0]
        name, number = grid.name, str(grid.id)
    by_name = _run(compound, "list", "--grid", name)
    assert by_name.exit_code == 0, by_name.output
    assert code in by_name.output
    assert _run(compound, "list", "--grid", number).output == by_name.output  # ids still work
    unknown = _run(compound, "list", "--grid", "第九十九网格")
    assert unknown.exit_code == 2
    assert "第九十九网格" in unknown.output
    assert name in unknown.output  # the grids there are
    out = tmp_path / "网格.xlsx"
    assert _run(compound, "export", "--grid", name, "--out", str(out)).exit_code == 0
    assert (
        _run(
            compound, "export", "--grid", "第九十九网格", "--out", str(tmp_path / "x.xlsx")
        ).exit_code
        == 2
    )
    assert not (tmp_path / "x.xlsx").exists()
