"""``/zones``: office staff seal a building from the page, the gate refuses its households'
exits, they move the last day and lift it; bad input answers 400 with nothing written; roles
without the office's rights are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import Compound, add_console_users, build_compound, console_client, local
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.db import transaction
from gate.households.models import Household
from gate.zones.models import ZoneLockRecord

PASSWORD = "correct-horse-battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    built.clock.set(local(2026, 12, 5, 9))
    add_console_users(
        built, PASSWORD, [("office1", Role.OFFICE, "李文员"), ("vol1", Role.VOLUNTEER, "赵志愿")]
    )
    try:
        yield built
    finally:
        built.dispose()


def _building(compound: Compound) -> int:
    with transaction(compound.sessions, read_only=True) as session:
        row = session.get(Household, compound.residents[0].household_id)
        assert row is not None
        return row.building_id


def _locks(compound: Compound) -> list[ZoneLockRecord]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = list(session.scalars(select(ZoneLockRecord)))
        for row in rows:
            session.expunge(row)
        return rows


def _exit(compound: Compound) -> dict[str, object]:
    answer = compound.scan(compound.client(), compound.residents[0].pass_text, "out")
    verdict: dict[str, object] = answer.get_json()["verdict"]
    compound.scan(compound.client(), compound.residents[0].pass_text, "in")
    return verdict


def test_office_seals_a_building_moves_its_end_and_lifts_it(compound: Compound) -> None:
    client = console_client(compound, "office1", PASSWORD)
    page = client.get("/zones")
    assert page.status_code == 200
    place = f"building:{_building(compound)}"
    assert f'value="{place}"' in page.get_data(as_text=True)
    made = client.post(
        "/zones",
        data={"level": "sealed", "place": place, "starts": "2026-12-05", "until": "2026-12-14"},
    )
    assert made.status_code == 302
    [lock] = _locks(compound)
    assert lock.starts_at == compound.clock()  # today: from now
    assert lock.ends_at == local(2026, 12, 15)
    listing = client.get("/zones").get_data(as_text=True)
    assert f'id="zone-{lock.id}" data-level="sealed" data-state="in_force"' in listing
    assert _exit(compound)["code"] == "zone_sealed_building"

    compound.clock.advance(minutes=5)
    moved = client.post(f"/zones/{lock.id}/end", data={"until": "2026-12-20"})
    assert moved.status_code == 302
    assert "（至 12-20）" in str(_exit(compound)["reason_zh"])
    lifted = client.post(f"/zones/{lock.id}/lift")
    assert lifted.status_code == 302
    compound.clock.advance(minutes=1)
    assert _exit(compound)["allowed"] is True
    everything = client.get("/zones?all=1").get_data(as_text=True)
    assert 'data-state="ended"' in everything


def test_bad_input_answers_400_and_writes_nothing(compound: Compound) -> None:
    client = console_client(compound, "office1", PASSWORD)
    place = f"building:{_building(compound)}"
    for data in (
        {"level": "sealed", "place": "building:99999999", "starts": "2026-12-05"},
        {"level": "locked", "place": place, "starts": "2026-12-05"},
        {"level": "sealed", "place": place, "starts": "05.12.2026"},
    ):
        assert client.post("/zones", data=data).status_code == 400, data
    too_early = {"level": "sealed", "place": place, "starts": "2026-12-10", "until": "2026-12-01"}
    assert client.post("/zones", data=too_early).status_code == 409
    assert _locks(compound) == []


def test_a_future_lock_is_cancelled_by_lifting(compound: Compound) -> None:
    client = console_client(compound, "office1", PASSWORD)
    place = f"building:{_building(compound)}"
    client.post("/zones", data={"level": "sealed", "place": place, "starts": "2026-12-07"})
    [lock] = _locks(compound)
    assert lock.starts_at == local(2026, 12, 7)
    client.post(f"/zones/{lock.id}/lift")
    compound.clock.advance(days=3)
    assert _exit(compound)["allowed"] is True
    assert 'data-state="cancelled"' in client.get("/zones?all=1").get_data(as_text=True)
    assert compound.clock() - lock.starts_at < timedelta(days=2)


def test_a_volunteer_may_not_open_or_post(compound: Compound) -> None:
    client = console_client(compound, "vol1", PASSWORD)
    assert client.get("/zones").status_code == 403
    assert client.post("/zones", data={}).status_code == 403
