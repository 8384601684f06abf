"""The office's import page: template download, preview with bad rows, skip-bad, bad-rows file."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import transaction
from gate.households.models import Household
from gate.households.relations import Relation
from gate.households.validation import id_check_digit

PASSWORD = "correct-horse-battery"
HEADER = ["户编号", "小区", "楼栋", "单元", "房号", "姓名", "与户主关系", "联系电话", "身份证号",
          "人数", "备注"]  # fmt: skip
WIFE_ID = "11010519491231002" + id_check_digit("11010519491231002")
GOOD = [
    ["8-1-101", "幸福里", "8号楼", "1单元", "101室", "赵六", "户主", "13800000001", "", "3", ""],
    ["8-1-101", "", "", "", "", "孙丽", "妻子", "13800000011", WIFE_ID, "", ""],
    ["8-1-101", "", "", "", "", "赵小宝", "儿子", "", "", "", "幼儿"],
    ["8-1-102", "幸福里", "八栋", "一单元", "102", "钱七", "", "13800000002", "", "", ""],
    ["8-1-103", "幸福里", "8", "1", "103", "周八", "", "13800000003", "", "", ""],
]
BAD = [
    ["8-1-104", "幸福里", "8", "1", "104", "吴九", "", "1380000", "", "", ""],  # bad phone
    ["8-1-105", "幸福里", "8", "1", "", "郑十", "", "13800000005", "", "", ""],  # no room
    ["8-1-101", "", "", "", "", "赵老太", "奶奶", "", "", "", ""],  # unknown relation
]


@dataclass
class Office:
    compound: Compound
    client: FlaskClient

    def households(self) -> dict[str, Household]:
        with transaction(self.compound.sessions, read_only=True) as session:
            rows = session.scalars(
                select(Household).where(Household.community_id == self.compound.community_id)
            )
            found = {h.code: h for h in rows}
            for household in found.values():
                _ = household.members, household.building.compound
            return found


@pytest.fixture
def office(committed_engine: Engine, db_url: str, tmp_path) -> Iterator[Office]:  # type: ignore[no-untyped-def]
    compound = build_compound(db_url, tmp_path, households=2)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
    compound.app.config["WTF_CSRF_ENABLED"] = False
    client = compound.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    answer = client.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert answer.status_code == 302
    try:
        yield Office(compound, client)
    finally:
        compound.dispose()


def xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for values in rows:
        sheet.append([value or None for value in values])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client: FlaskClient, data: bytes, name: str = "住户.xlsx") -> str:
    answer = client.post(
        "/households/import",
        data={"sheet": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_the_page_links_the_template_and_the_template_downloads(office: Office) -> None:
    page = office.client.get("/households/import").get_data(as_text=True)
    assert "下载导入模板" in page

    answer = office.client.get("/households/import/template")

    assert answer.status_code == 200
    workbook = load_workbook(io.BytesIO(answer.data))
    assert workbook.sheetnames == ["住户登记", "填写说明"]
    header = [cell.value for cell in workbook["住户登记"][1]]
    assert {"小区", "姓名", "与户主关系", "人数", "备注"} <= set(header)
    notes = " ".join(str(c.value) for row in workbook["填写说明"].iter_rows() for c in row)
    assert "每人填写一行" in notes


def test_three_bad_rows_are_listed_skipped_and_downloadable_to_fix(office: Office) -> None:
    before = set(office.households())

    preview = upload(office.client, xlsx([HEADER, *GOOD, *BAD]))

    bad_numbers = {7, 8, 9}  # the header is row 1
    table = preview.split('id="row-errors"')[1].split("</table>")[0]
    assert {int(n) for n in re.findall(r'<td class="num">(\d+)</td>', table)} == bad_numbers
    messages = re.findall(r"<td>([^<]*)</td>\s*</tr>", table)
    assert len(messages) == 3
    for message in messages:  # every reason in Chinese: no English word in it
        assert not re.search(r"[A-Za-z]{2,}", message), message
    assert "导入正确的 3 户" in preview
    assert set(office.households()) == before  # a preview writes nothing
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', preview)
    assert token is not None

    done = office.client.post(
        "/households/import/confirm",
        data={"token": token.group(1), "filename": "住户.xlsx", "skip_bad": "1"},
    )

    assert done.status_code == 200
    assert "有错误的 3 行已跳过" in done.get_data(as_text=True)
    stored = office.households()
    assert set(stored) - before == {"8-1-101", "8-1-102", "8-1-103"}
    family = stored["8-1-101"]
    assert family.head_count == 3
    assert family.building.code == "8"
    assert family.building.compound.name == "幸福里"
    assert {m.name: m.relation for m in family.members} == {
        "赵六": Relation.HEAD, "孙丽": Relation.SPOUSE, "赵小宝": Relation.CHILD,
    }  # fmt: skip
    assert stored["8-1-102"].building_id == family.building_id  # 八栋 is building 8
    detail = office.client.get("/households/8-1-101").get_data(as_text=True)
    assert re.search(r'id="head-count">3<', detail)
    assert "幼儿" in detail  # the note
    for label in ("户主", "配偶", "子女", "幸福里"):
        assert label in detail

    download = office.client.get(f"/households/import/{token.group(1)}/bad-rows.xlsx")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [*HEADER, "错误原因"]
    assert [row[:6] for row in rows[1:]] == [values[:6] if values[4] else
                                             [*values[:4], None, values[5]] for values in
                                             [[v or None for v in r] for r in BAD]]  # fmt: skip
    reasons = [row[-1] for row in rows[1:]]
    assert reasons[0].startswith("联系电话：")
    assert reasons[1].startswith("房号：")
    assert reasons[2].startswith("与户主关系：")

    fixed = [row[:-1] for row in rows]
    fixed[1][7], fixed[2][4], fixed[3][6] = "13800000004", "105", "其他"
    again = upload(office.client, xlsx([[str(v) if v else "" for v in row] for row in fixed]))
    assert 'id="row-errors"' not in again
    assert re.search(r'id="created">2<', again)
    assert re.search(r'id="updated">1<', again)
    assert "错误原因" not in again  # the added column is read back without a warning


def test_a_large_file_imports_as_a_background_job_with_progress(office: Office) -> None:
    rows = [HEADER]
    for i in range(1100):
        code = f"{i % 10 + 1}-1-{1000 + i}"
        rows.append([code, "幸福里", str(i % 10 + 1), "1", str(1000 + i), f"户主{i}", "户主",
                     f"139{i:08d}", "", "", ""])  # fmt: skip
    rows[5][7] = "123"  # one bad phone: row 6
    before = set(office.households())
    preview = upload(office.client, xlsx(rows))
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', preview)
    assert token is not None

    started = office.client.post(
        "/households/import/confirm",
        data={"token": token.group(1), "filename": "大表.xlsx", "skip_bad": "1"},
    )

    assert started.status_code == 303
    job_url = started.headers["Location"]
    assert job_url.endswith(f"/households/import/{token.group(1)}/job")
    pages = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = office.client.get(job_url)
        pages.append(answer.get_data(as_text=True))
        if 'id="import-job"' not in pages[-1]:
            break
        assert 'http-equiv="refresh"' in pages[-1]
        time.sleep(0.2)
    final = pages[-1]
    assert "新增 1099 户" in final
    assert "有错误的 1 行已跳过" in final
    assert len(set(office.households()) - before) == 1099
    again = office.client.post(  # a second confirmation of the same upload starts nothing
        "/households/import/confirm",
        data={"token": token.group(1), "filename": "大表.xlsx", "skip_bad": "1"},
    )
    assert again.status_code == 303
    assert len(set(office.households()) - before) == 1099
