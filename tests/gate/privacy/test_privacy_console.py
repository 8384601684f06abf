"""The console's privacy pages in Chinese: a household's data export from its page, retention,
the end of the lockdown with a typed confirmation, the purge, and /log/chain afterwards."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound, add_console_users, build_compound, console_client
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.db import transaction
from gate.households.models import Household
from passes import Direction

PASSWORD = "correct-horse-battery"
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    add_console_users(
        built, PASSWORD, [("office1", Role.OFFICE, "office1"), ("admin1", Role.ADMIN, "admin1")]
    )
    try:
        yield built
    finally:
        built.dispose()


def _client(compound: Compound, username: str) -> FlaskClient:
    return console_client(compound, username, PASSWORD)


def _actions(compound: Compound) -> list[str]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("privacy.%"))
                .order_by(AuditEvent.id)
            )
        )


def test_household_export_from_its_page_is_masked_and_audited(compound: Compound) -> None:
    resident = compound.residents[0]
    scanner = compound.client()
    assert compound.scan(scanner, resident_pass(compound, 0), Direction.OUT).status_code == 200
    office = _client(compound, "office1")

    page = office.get(f"/households/{resident.code}", headers=ZH).get_data(as_text=True)
    answer = office.post(f"/households/{resident.code}/privacy-export", headers=ZH)

    assert "导出该户全部数据" in page
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.data))
    members = list(book["成员"].iter_rows(values_only=True))
    assert resident.member_names[0] not in {row[0] for row in members}
    assert len(list(book["出入记录"].iter_rows())) == 2
    assert _actions(compound) == ["privacy.export"]


def test_admin_ends_the_lockdown_and_purges_then_the_chain_verifies_from_the_checkpoint(
    compound: Compound,
) -> None:
    scanner = compound.client()
    for index in range(2):
        compound.scan(scanner, resident_pass(compound, index), Direction.OUT)
    admin = _client(compound, "admin1")
    office = _client(compound, "office1")

    page = admin.get("/privacy", headers=ZH).get_data(as_text=True)
    office_end = office.post("/privacy/end-lockdown", data={"confirm": "x"})
    kept = admin.post("/privacy/retention", data={"days": "0"})
    wrong = admin.post("/privacy/end-lockdown", data={"confirm": "别的小区"}, headers=ZH)
    wrong_page = admin.get("/privacy", headers=ZH).get_data(as_text=True)
    ended = admin.post("/privacy/end-lockdown", data={"confirm": "测试街道幸福里小区"})
    refused_scan = compound.scan(scanner, resident_pass(compound, 0), Direction.IN)
    purged = admin.post("/privacy/purge", headers=ZH)
    after = admin.get("/privacy", headers=ZH).get_data(as_text=True)
    chain = admin.get("/log/chain", headers=ZH).get_data(as_text=True)
    trail = admin.get("/audit", headers=ZH).get_data(as_text=True)

    assert "数据保存期限" in page
    assert "结束封控" in page
    assert office_end.status_code == 403
    assert kept.status_code == 302
    assert wrong.status_code == 302
    assert "输入的名称与社区名称不一致" in wrong_page
    assert ended.status_code == 302
    assert refused_scan.status_code in (401, 403)  # the scanner was revoked
    assert purged.status_code == 302
    assert "已删除" in after
    assert "自" in chain
    assert "检查点起校验通过" in chain
    for label in ("设置数据保存期限", "封控已结束", "保存期满删除数据", "家庭成员"):
        assert label in trail
    with transaction(compound.sessions, read_only=True) as session:
        left = session.scalar(
            select(func.count())
            .select_from(Household)
            .where(Household.community_id == compound.community_id)
        )
    assert left == 0
    assert _actions(compound) == ["privacy.retention", "privacy.end_lockdown", "privacy.purge"]


def resident_pass(compound: Compound, index: int) -> str:
    return compound.residents[index].pass_text
