"""The roster page in Chinese (SQLite and PostgreSQL): the office plans a week at the gate,
puts an account and a free-text volunteer on a shift, sees the gaps, copies the week, exports
it to Excel, takes someone off and removes a future shift; an auditor reads the page without
its forms and cannot change it; the overview shows today's uncovered shifts linking to it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import START, ZONE, Compound, add_console_users, build_compound, console_client
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.db import transaction
from gate.roster.models import DutyAssignment, DutyShift

PASSWORD = "correct-horse-battery"
ZH = {"Accept-Language": "zh-CN"}
TODAY = START.astimezone(ZONE).date()  # Sunday 2026-11-22, clock at 09:00
MONDAY = TODAY - timedelta(days=TODAY.weekday())


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    add_console_users(
        built,
        PASSWORD,
        [
            ("office1", Role.OFFICE, "李文员"),
            ("audit1", Role.AUDITOR, "赵审计"),
            ("zhang.vol", Role.VOLUNTEER, "张三"),
            ("wang.sup", Role.SUPERVISOR, "王主任"),
        ],
    )
    try:
        yield built
    finally:
        built.dispose()


def _page(client: FlaskClient, week: str = "") -> str:
    answer = client.get(f"/roster?week={week}", headers=ZH)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _shifts(compound: Compound) -> list[DutyShift]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(session.scalars(select(DutyShift).order_by(DutyShift.starts_at)))


def _actions(compound: Compound) -> list[str]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("roster.%"))
                .order_by(AuditEvent.id)
            )
        )


def _plan(office: FlaskClient, compound: Compound, first: str, days: int, slots: str) -> None:
    answer = office.post(
        "/roster/plan",
        data={"gate": compound.gate_id, "first_day": first, "days": days, "slots": slots},
        headers=ZH,
    )
    assert answer.status_code == 302


def test_the_office_plans_staffs_copies_and_exports_a_week(compound: Compound) -> None:
    office = console_client(compound, "office1", PASSWORD)
    assert 'id="roster-empty"' in _page(office)
    _plan(office, compound, TODAY.isoformat(), 1, "08:00-20:00,20:00-08:00")
    day, night = _shifts(compound)
    page = _page(office)
    assert f'id="shift-{day.id}"' in page
    assert 'data-gap="nobody"' in page

    for data in (
        {"username": "zhang.vol", "duty": "volunteer"},
        {"name": "李四（党员先锋队）", "duty": "volunteer"},
        {"username": "wang.sup", "duty": "supervisor"},
    ):
        answer = office.post(f"/roster/shifts/{day.id}/assign", data=data, headers=ZH)
        assert answer.status_code == 302
    page = _page(office)
    for name in ("张三", "李四（党员先锋队）", "王主任"):
        assert name in page
    assert 'data-state="covered"' in page

    # The overview lists today's night shift as uncovered, linking to the roster.
    overview = office.get("/", headers=ZH).get_data(as_text=True)
    assert 'id="roster-gaps"' in overview
    assert f"/roster?week={MONDAY.isoformat()}#shift-{night.id}" in overview

    following = (MONDAY + timedelta(days=7)).isoformat()
    answer = office.post("/roster/copy", data={"week": following}, headers=ZH)
    assert answer.status_code == 302
    assert len(_shifts(compound)) == 4
    assert "李四（党员先锋队）" in _page(office, following)

    answer = office.post("/roster/export", data={"week": MONDAY.isoformat()}, headers=ZH)
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data)).active
    assert sheet is not None
    rows = list(sheet.values)
    assert rows[0][1] == "出入口"
    assert [row[9] for row in rows[1:]] == ["已安排", "无人值守"]

    with transaction(compound.sessions, read_only=True) as session:
        volunteer = session.scalars(
            select(DutyAssignment).where(DutyAssignment.name == "李四（党员先锋队）")
        ).first()
    assert volunteer is not None
    office.post(f"/roster/assignments/{volunteer.id}/remove", headers=ZH)
    future = _shifts(compound)[-1]
    office.post(f"/roster/shifts/{future.id}/remove", headers=ZH)
    assert len(_shifts(compound)) == 3
    assert _actions(compound) == [
        "roster.plan",
        "roster.assign",
        "roster.assign",
        "roster.assign",
        "roster.copy",
        "roster.export",
        "roster.unassign",
        "roster.remove",
    ]


def test_a_refusal_is_flashed_in_chinese_and_writes_nothing(compound: Compound) -> None:
    office = console_client(compound, "office1", PASSWORD)
    _plan(office, compound, TODAY.isoformat(), 1, "早班")
    assert _shifts(compound) == []
    page = office.get("/roster", headers=ZH).get_data(as_text=True)
    assert "flash-error" in page
    _plan(office, compound, TODAY.isoformat(), 1, "08:00-20:00")
    (shift,) = _shifts(compound)
    office.post(
        f"/roster/shifts/{shift.id}/assign",
        data={"username": "zhang.vol", "duty": "supervisor"},
        headers=ZH,
    )
    assert "flash-error" in _page(office)
    assert _actions(compound) == ["roster.plan"]


def test_an_auditor_reads_the_roster_but_cannot_change_it(compound: Compound) -> None:
    office = console_client(compound, "office1", PASSWORD)
    _plan(office, compound, TODAY.isoformat(), 1, "08:00-20:00")
    auditor = console_client(compound, "audit1", PASSWORD)
    page = _page(auditor)
    assert 'id="roster-plan"' not in page
    assert "/roster/shifts/" not in page
    (shift,) = _shifts(compound)
    answer = auditor.post(f"/roster/shifts/{shift.id}/assign", data={"name": "某人"}, headers=ZH)
    assert answer.status_code == 403
    answer = auditor.post("/roster/plan", data={"gate": compound.gate_id}, headers=ZH)
    assert answer.status_code == 403
