"""The errand pages through HTTP, on SQLite and PostgreSQL: the office asks for an errand and
assigns it to a squad, a volunteer takes it on their phone page and marks it delivered; the
list filters; refusals are 409 in Chinese with nothing written; the Excel export; roles."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound
from errand_site import client, errand_compound, errands, events, said
from openpyxl import load_workbook
from sqlalchemy import Engine

from gate.errands.models import ErrandStatus


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    with errand_compound(db_url, tmp_path) as built:
        yield built


def _text(answer: object) -> str:
    return answer.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def test_office_asks_assigns_to_a_squad_and_a_volunteer_delivers_from_the_phone_page(
    compound: Compound,
) -> None:
    office = client(compound, "office1")
    formed = office.post(
        "/errands/squads", data={"name": "党员先锋队A组", "members": ["vol1", "vol2"]}
    )
    assert formed.status_code == 302, _text(formed)
    code = compound.residents[0].code
    asked = office.post(
        "/errands",
        data={
            "household": code,
            "kind": "medicine",
            "text": "降压药",
            "items": "硝苯地平\n阿司匹林",
            "assignee": "s:党员先锋队A组",
        },
    )
    assert asked.status_code == 302, _text(asked)
    (errand,) = errands(compound)
    assert errand.squad_id is not None

    page = office.get("/errands")
    html = _text(page)
    assert page.status_code == 200
    assert "党员先锋队A组" in html
    assert "硝苯地平、阿司匹林" in html
    assert code in html

    volunteer = client(compound, "vol2")
    mine = volunteer.get("/errands/mine")
    assert mine.status_code == 200
    assert f'id="errand-{errand.id}"' in _text(mine)
    assert "errand-big" in _text(mine)
    taken = volunteer.post(f"/errands/{errand.id}/accept", data={"next": "/errands/mine"})
    assert taken.status_code == 302
    assert taken.headers["Location"].endswith("/errands/mine")
    other = client(compound, "vol1")
    assert f'id="errand-{errand.id}"' not in _text(other.get("/errands/mine"))
    refused = other.post(f"/errands/{errand.id}/deliver", data={"next": "/errands/mine"})
    assert refused.status_code == 409
    delivered = volunteer.post(
        f"/errands/{errand.id}/deliver", data={"note": "已放门口", "next": "/errands/mine"}
    )
    assert delivered.status_code == 302
    row = errands(compound)[0]
    assert (row.status, row.delivery_note, row.delivered_at) == (
        ErrandStatus.DELIVERED,
        "已放门口",
        compound.clock(),
    )
    assert [action for action, _ in events(compound)] == [
        "errand.squad_create",
        "errand.create",
        "errand.accept",
        "errand.deliver",
    ]


def test_a_household_not_in_quarantine_is_refused_in_chinese_and_nothing_is_written(
    compound: Compound,
) -> None:
    office = client(compound, "office1")
    answer = office.post(
        "/errands",
        data={"household": compound.residents[1].code, "kind": "groceries", "text": "买菜"},
    )
    assert answer.status_code == 409
    assert said(_text(answer), "is not in home quarantine")
    assert 'value="买菜"' in _text(answer)  # the form keeps what was typed
    assert errands(compound) == []
    assert events(compound) == []


def test_the_list_filters_by_status_and_assignee_and_exports_to_excel(
    compound: Compound,
) -> None:
    office = client(compound, "office1")
    code = compound.residents[0].code
    for text, assignee in (("买菜", "u:vol1"), ("买药", "u:vol2"), ("倒垃圾", "")):
        answer = office.post(
            "/errands",
            data={"household": code, "kind": "groceries", "text": text, "assignee": assignee},
        )
        assert answer.status_code == 302, _text(answer)
    first, second, third = errands(compound)
    cancelled = office.post(f"/errands/{third.id}/cancel", data={"reason": "重复登记"})
    assert cancelled.status_code == 302
    no_reason = office.post(f"/errands/{second.id}/cancel", data={"reason": ""})
    assert no_reason.status_code == 409

    def shown(query: str) -> set[int]:
        html = _text(office.get("/errands" + query))
        return {row.id for row in (first, second, third) if f'id="errand-{row.id}"' in html}

    assert shown("") == {first.id, second.id, third.id}
    assert shown("?status=cancelled") == {third.id}
    assert shown(f"?assignee=u:{first.assignee_user_id}") == {first.id}
    assert shown("?date=2026-11-22") == {first.id, second.id, third.id}
    assert shown("?date=2026-11-23") == set()
    assert shown("?household=nobody") == set()

    exported = office.get("/errands/export.xlsx?status=new")
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("编号", "户编号", "网格", "类别", "类别代码")
    assert sorted(row[0] for row in rows[1:]) == [first.id, second.id]
    assert {row[7] for row in rows[1:]} == {"待接单"} or {row[8] for row in rows[1:]} == {"new"}
    assert events(compound)[-1] == ("errand.export", {"rows": 2})


def test_roles(compound: Compound) -> None:
    volunteer = client(compound, "vol1")
    auditor = client(compound, "aud1")
    supervisor = client(compound, "sup1")
    code = compound.residents[0].code
    assert volunteer.get("/errands").status_code == 403
    assert auditor.get("/errands").status_code == 200
    assert auditor.get("/errands/mine").status_code == 403
    form = {"household": code, "kind": "rubbish"}
    assert auditor.post("/errands", data=form).status_code == 403
    assert volunteer.post("/errands", data=form).status_code == 403
    assert supervisor.post("/errands", data=form).status_code == 302  # a grid worker asks
    (errand,) = errands(compound)
    assert supervisor.post(f"/errands/{errand.id}/cancel", data={"reason": "x"}).status_code == 403
    assert (
        supervisor.post(f"/errands/{errand.id}/assign", data={"assignee": "u:vol1"}).status_code
        == 403
    )
    assert (
        client(compound, "office1")
        .post(f"/errands/{errand.id}/assign", data={"assignee": "u:vol1"})
        .status_code
        == 302
    )
    assert volunteer.post(f"/errands/{errand.id}/accept").status_code == 302
    assert errands(compound)[0].status is ErrandStatus.ACCEPTED


def test_the_office_changes_a_squads_members(compound: Compound) -> None:
    office = client(compound, "office1")
    assert (
        office.post("/errands/squads", data={"name": "代购小分队", "members": ["vol1"]}).status_code
        == 302
    )
    changed = office.post(
        "/errands/squads/members", data={"name": "代购小分队", "members": ["vol2", "sup1"]}
    )
    assert changed.status_code == 302
    html = _text(office.get("/errands"))
    squad_line = html.split("<strong>代购小分队</strong>")[1].split("<details")[0]
    assert "赵师傅" in squad_line
    assert "刘网格员" in squad_line
    assert "李阿姨" not in squad_line
    unknown = office.post("/errands/squads/members", data={"name": "没有", "members": ["vol1"]})
    assert unknown.status_code == 409
    assert (
        client(compound, "sup1")
        .post("/errands/squads/members", data={"name": "代购小分队", "members": []})
        .status_code
        == 403
    )
    assert [action for action, _ in events(compound)] == [
        "errand.squad_create",
        "errand.squad_members",
    ]
