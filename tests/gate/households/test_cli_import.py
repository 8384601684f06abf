"""`checkpoint households import` with members, --skip-bad and --bad-rows, on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from gate.cli.db import db_group
from gate.cli.households import households_group
from gate.community.models import Community
from gate.db import make_engine, session_factory, transaction
from gate.households.models import Household

HEADER = ["户编号", "楼栋", "单元", "房号", "姓名", "与户主关系", "联系电话", "人数"]
ROWS = [
    ["5-1-101", "5号楼", "1单元", "101", "孙一", "户主", "13800000001", "2"],
    ["5-1-101", "", "", "", "孙二", "子女", "", ""],
    ["5-1-102", "五栋", "1", "102室", "孙三", "", "12345", ""],  # bad phone
    ["5-1-103", "５", "一单元", "103", "孙四", "", "13800000004", "0"],  # bad head count
]


class Cli:
    def __init__(self, directory: Path) -> None:
        self.url = f"sqlite:///{directory / 'checkpoint.sqlite3'}"
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": self.url,
            "CHECKPOINT_SECRET_KEY": "k" * 48,
        }

    def __call__(self, group: object, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(group, list(args), env=self.env, catch_exceptions=False)  # type: ignore[arg-type]
        assert result.exit_code == code, result.output
        return result

    def households(self) -> dict[str, tuple[str, int, list[str]]]:
        engine = make_engine(self.url)
        try:
            with transaction(session_factory(engine), read_only=True) as session:
                return {
                    h.code: (h.building.code, h.head_count, sorted(m.name for m in h.members))
                    for h in session.scalars(select(Household))
                }
        finally:
            engine.dispose()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    cli(db_group, "upgrade")
    engine = make_engine(cli.url)
    with transaction(session_factory(engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
    engine.dispose()
    return cli


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = Workbook()
    for values in rows:
        workbook.active.append([value or None for value in values])
    workbook.save(path)
    return path


def test_skip_bad_imports_the_good_rows_and_writes_the_bad_ones_to_fix(
    cli: Cli, tmp_path: Path
) -> None:
    sheet = write_xlsx(tmp_path / "住户.xlsx", [HEADER, *ROWS])

    refused = cli(households_group, "import", str(sheet), code=1)
    assert "第 4 行 联系电话：" in refused.output
    assert "第 5 行 人数：" in refused.output
    assert cli.households() == {}

    bad_file = tmp_path / "错误行.xlsx"
    done = cli(households_group, "import", str(sheet), "--skip-bad", "--bad-rows", str(bad_file))

    assert "新增 1 户" in done.output
    assert "有错误的 2 行已跳过" in done.output
    assert cli.households() == {"5-1-101": ("5", 2, ["孙一", "孙二"])}
    rows = [[c.value for c in row] for row in load_workbook(bad_file).active.iter_rows()]
    assert rows[0] == [*HEADER, "错误原因"]
    assert [row[0] for row in rows[1:]] == ["5-1-102", "5-1-103"]
    assert str(rows[1][-1]).startswith("联系电话：")

    rows[1][6], rows[2][7] = "13800000003", "1"
    fixed = write_xlsx(tmp_path / "改正.xlsx", [[str(v) if v else "" for v in r] for r in rows])
    again = cli(households_group, "import", str(fixed))

    assert "新增 2 户" in again.output
    assert "提示" not in again.output  # the 错误原因 column is read without a warning
    stored = cli.households()
    assert stored["5-1-102"][0] == stored["5-1-103"][0] == "5"  # 五栋, ５: building 5
    assert cli(households_group, "import", str(sheet), "--skip-bad").output.count("未变 1 户") == 1
