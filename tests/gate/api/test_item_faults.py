"""Item-level problems are answered per item, never with a 500 (issue #11, finding 4).

A validly signed pass for a household the server does not know (``checkpoint passes mint``,
the documented emergency path, or a restore from an older backup) is a refused crossing
``unknown_household``, stored without a household, online and offline. In a batch, an item
the server fails to store for any other reason is kept as a rejected crossing and answered
``rejected`` with ``item_error``; the items before and after it are stored all the same, and
nothing of the request is committed half-way before a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from api_helpers import Compound, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine, select

import gate.crossings.upload_chunk as upload_chunk
import gate.crossings.uploads as uploads
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.signing.operations import active_signing_key
from passes import Pass, new_pass_id

CLAIM = {"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1}
REFUSED = {
    "allowed": False,
    "code": "unknown_household",
    "codes": ["unknown_household"],
    "notes": [],
    "rule_version": 1,
}
UNKNOWN_HOUSEHOLD = 4343


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=4)
    built.clock.advance(hours=1)  # the scanner has been at work for an hour
    try:
        yield built
    finally:
        built.dispose()


def minted(compound: Compound, household_id: int = UNKNOWN_HOUSEHOLD) -> str:
    """A pass signed with the community's own key for ``household_id``, recorded nowhere
    (what ``checkpoint passes mint`` prints)."""
    with transaction(compound.sessions, read_only=True) as session:
        key = active_signing_key(session, compound.community_id)
    issued_at = compound.clock().replace(microsecond=0) - timedelta(hours=1)
    return key.sign(
        Pass(
            key_id=key.entry.key_id,
            pass_id=new_pass_id(),
            household_id=household_id,
            community_id=compound.community_id,
            generation=1,
            issued_at=issued_at,
            valid_until=issued_at + timedelta(days=30),
        )
    )


def stored(compound: Compound, client_id: str) -> Crossing:
    with transaction(compound.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing).where(Crossing.client_id == client_id)).one()
        session.expunge(row)
        return row


def offline_item(
    compound: Compound, pass_text: str, direction: str = "out", claim: Any = CLAIM, minutes: int = 1
) -> dict[str, Any]:
    at = compound.clock() - timedelta(minutes=minutes)
    return scan_body(pass_text, direction, scanned_at=at, verdict=claim)


def test_online_scan_of_a_minted_pass_for_an_unknown_household_is_refused_not_a_500(
    compound: Compound,
) -> None:
    client = compound.client()
    body = scan_body(minted(compound), "out", scanned_at=compound.clock())
    response = client.post("/api/v1/scans", json=body, headers=compound.headers())
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    verdict = answer["verdict"]
    assert (verdict["allowed"], verdict["code"]) == (False, "unknown_household")
    assert verdict["reason_zh"] == "住户未登记"
    assert answer["household_label"] is None
    row = stored(compound, body["id"])
    assert (row.household_id, row.allowed, row.code) == (None, False, "unknown_household")
    assert row.pass_id is not None  # the presented pass is on record for the office
    # A replay answers the same, and the gate goes on working.
    again = client.post("/api/v1/scans", json=body, headers=compound.headers())
    assert again.status_code == 200
    assert again.get_json()["replay"] is True
    good = compound.scan(client, compound.residents[0].pass_text, "out")
    assert good.status_code == 200
    assert good.get_json()["verdict"]["allowed"] is True
    assert assert_chain_intact(compound) == 2


def test_an_expired_pass_of_an_unknown_household_is_refused_not_a_500(compound: Compound) -> None:
    text = minted(compound)
    compound.clock.advance(days=40)
    response = compound.scan(compound.client(), text, "out")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["verdict"]["code"] == "expired"


def test_a_batch_with_an_unknown_household_is_answered_per_item_and_drains(
    compound: Compound,
) -> None:
    residents = compound.residents
    items = [
        offline_item(compound, residents[0].pass_text, minutes=5),
        offline_item(compound, minted(compound), claim=REFUSED, minutes=4),
        offline_item(compound, minted(compound, UNKNOWN_HOUSEHOLD + 1), minutes=3),
        offline_item(compound, residents[1].pass_text, minutes=2),
    ]
    response = compound.upload(compound.client(), items)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * 4
    assert [r["error"] for r in results] == [None] * 4
    # The scanner refused the first unknown one: no conflict; it allowed the second (a
    # bundle older than a restore): flagged with the server's refusal.
    assert [(r["conflict"], r["conflict_code"]) for r in results] == [
        (False, None),
        (False, None),
        (True, "unknown_household"),
        (False, None),
    ]
    rows = [stored(compound, item["id"]) for item in items]
    assert [row.household_id for row in rows] == [
        residents[0].household_id,
        None,
        None,
        residents[1].household_id,
    ]
    assert assert_chain_intact(compound) == 4
    # Uploading the same batch again (a scanner that lost the answer) is all duplicates.
    again = compound.upload(compound.client(), items).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate"] * 4


def test_an_item_that_fails_unexpectedly_is_its_own_error_and_the_rest_are_stored(
    compound: Compound,
) -> None:
    residents = compound.residents
    items = [offline_item(compound, residents[n].pass_text, minutes=10 - n) for n in range(4)]
    poisoned = items[1]["id"]
    record_scan = uploads.record_scan

    def failing(*args: Any, **kwargs: Any) -> Any:
        if kwargs["request"].client_id == poisoned:
            raise RuntimeError("boom")
        return record_scan(*args, **kwargs)

    with item_path(), mock.patch.object(uploads, "record_scan", failing):
        response = compound.upload(compound.client(), items)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected", "stored", "stored"]
    assert results[1]["error"]["code"] == "item_error"
    assert results[1]["id"] == poisoned
    kept = stored(compound, poisoned)
    assert kept.rejected
    assert not kept.allowed
    assert kept.household_id is None
    assert "RuntimeError" in (kept.rejection_reason or "")
    assert assert_chain_intact(compound) == 4
    # The rest advanced their households as usual.
    assert stored(compound, items[2]["id"]).household_id == residents[2].household_id


def test_a_chunk_is_never_half_committed_before_a_failure(compound: Compound) -> None:
    """The failure comes after earlier items of its chunk were written: they are rolled back
    with it and stored again item by item, exactly once."""
    residents = compound.residents
    items = [offline_item(compound, r.pass_text, minutes=9 - n) for n, r in enumerate(residents)]
    poisoned = items[-1]["id"]
    record_scan = uploads.record_scan

    def failing(*args: Any, **kwargs: Any) -> Any:
        if kwargs["request"].client_id == poisoned:
            raise ValueError("boom")
        return record_scan(*args, **kwargs)

    with item_path(), mock.patch.object(uploads, "record_scan", failing):
        results = compound.upload(compound.client(), items).get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * 3 + ["rejected"]
    assert compound.crossing_count() == 4
    assert assert_chain_intact(compound) == 4
    assert len({uuid.UUID(r["id"]) for r in results}) == 4


def test_a_set_chunk_that_fails_after_writing_is_rolled_back_and_stored_item_by_item(
    compound: Compound,
) -> None:
    """The set-based chunk fails after its INSERT: nothing of it stays, and the item path
    stores every item exactly once, the chain intact."""
    residents = compound.residents
    items = [offline_item(compound, r.pass_text, minutes=9 - n) for n, r in enumerate(residents)]
    insert_chunk = upload_chunk.insert_chunk
    failed: list[bool] = []

    def insert_then_fail(*args: Any, **kwargs: Any) -> Any:
        insert_chunk(*args, **kwargs)
        failed.append(True)
        raise RuntimeError("lost after the insert")

    with mock.patch.object(upload_chunk, "insert_chunk", insert_then_fail):
        results = compound.upload(compound.client(), items).get_json()["results"]
    assert failed == [True]
    assert [r["status"] for r in results] == ["stored"] * len(items)
    assert compound.crossing_count() == len(items)
    assert assert_chain_intact(compound) == len(items)
    again = compound.upload(compound.client(), items).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate"] * len(items)


def item_path() -> Any:
    """Uploads stored item by item: the set-based chunk declines (the faults above are
    injected into the item path's record_scan)."""
    return mock.patch.object(uploads, "store_offline_chunk", return_value=None)


def household_state_json(compound: Compound, household_id: int) -> object:
    from gate.households.models import Household

    with transaction(compound.sessions, read_only=True) as session:
        household = session.get(Household, household_id)
        assert household is not None
        return (household.state_json, household.out_count)


def test_a_future_dated_upload_is_rejected_kept_and_changes_nothing(compound: Compound) -> None:
    """Finding 3: an OUT dated 20 days ahead is kept as a rejected crossing with its reason;
    the household's state is untouched, so an online OUT right after is allowed."""
    resident = compound.residents[0]
    before = household_state_json(compound, resident.household_id)
    ahead = scan_body(
        resident.pass_text,
        "out",
        scanned_at=compound.clock() + timedelta(days=20),
        verdict=CLAIM,
        clock_offset_ms=0,
    )
    response = compound.upload(compound.client(), [ahead])
    assert response.status_code == 200, response.get_json()
    (result,) = response.get_json()["results"]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "scanned_at_future"
    assert "after the server's time" in result["error"]["message"]
    assert result["crossing_id"] is not None
    row = stored(compound, ahead["id"])
    assert row.rejected
    assert not row.allowed
    assert row.code == "scanned_at_future"
    assert row.household_id == resident.household_id  # the office sees whose card it was
    assert row.scanned_at == compound.clock() + timedelta(days=20)
    assert "scanner_allowed" in row.flags.split()
    assert household_state_json(compound, resident.household_id) == before
    # Uploading it again is answered the same way, and stores nothing new.
    again = compound.upload(compound.client(), [ahead]).get_json()["results"][0]
    assert (again["status"], again["crossing_id"]) == ("rejected", result["crossing_id"])
    online = compound.scan(compound.client(), resident.pass_text, "out")
    assert online.get_json()["verdict"]["allowed"] is True
    assert assert_chain_intact(compound) == 2


def test_an_upload_within_the_tolerance_ahead_is_stored(compound: Compound) -> None:
    resident = compound.residents[1]
    item = scan_body(
        resident.pass_text, "out", scanned_at=compound.clock() + timedelta(minutes=4), verdict=CLAIM
    )
    (result,) = compound.upload(compound.client(), [item]).get_json()["results"]
    assert (result["status"], result["error"]) == ("stored", None)


def test_an_upload_dated_before_the_device_existed_is_rejected(compound: Compound) -> None:
    resident = compound.residents[2]
    compound.clock.advance(days=1)
    early = scan_body(
        resident.pass_text, "out", scanned_at=compound.clock() - timedelta(days=2), verdict=CLAIM
    )
    (result,) = compound.upload(compound.client(), [early]).get_json()["results"]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "scanned_before_enrolment"
    assert stored(compound, early["id"]).rejected


def test_the_clock_offset_a_scanner_reports_is_stored(compound: Compound) -> None:
    resident = compound.residents[3]
    item = scan_body(
        resident.pass_text,
        "out",
        scanned_at=compound.clock() - timedelta(minutes=1),
        verdict=CLAIM,
        clock_offset_ms=-1500,
        format="checkpoint.crossing.v1",
        override=None,
        latency_ms=None,
    )
    huge = scan_body(
        resident.pass_text,
        "in",
        scanned_at=compound.clock(),
        verdict=CLAIM,
        clock_offset_ms=10 * 365 * 86_400_000,  # the wire allows ten years; the column less
        format="checkpoint.crossing.v1",
        override=None,
        latency_ms=None,
    )
    results = compound.upload(compound.client(), [item, huge]).get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert stored(compound, item["id"]).clock_offset_ms == -1500
    assert stored(compound, huge["id"]).clock_offset_ms == 2**31 - 1


def device_clock(compound: Compound) -> tuple[object, object]:
    from gate.devices.models import Device

    with transaction(compound.sessions, read_only=True) as session:
        device = session.get(Device, compound.device_id)
        assert device is not None
        return device.latest_scanned_at, device.clock_fault_at


def test_uploads_going_back_in_time_flag_the_device_and_the_crossing(compound: Compound) -> None:
    """Finding 1, the server's half: the device's clock high-water mark only moves forward;
    a crossing dated behind it (a clock set back) is stored, flagged ``clock_backwards``, the
    device gets ``clock_fault_at`` and the office an audit event."""
    from gate.audit.models import AuditEvent

    residents = compound.residents
    now = compound.clock()
    first = [
        offline_item(compound, residents[0].pass_text, "out", minutes=30),
        offline_item(compound, residents[0].pass_text, "in", minutes=20),
    ]
    results = compound.upload(compound.client(), first).get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert device_clock(compound) == (now - timedelta(minutes=20), None)
    # A little behind (within the tolerance) is a journal's ordinary jitter: not flagged.
    jitter = offline_item(compound, residents[1].pass_text, "out", minutes=21)
    back = offline_item(compound, residents[0].pass_text, "out", minutes=50)  # set back
    results = compound.upload(compound.client(), [jitter, back]).get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert "clock_backwards" not in stored(compound, jitter["id"]).flags.split()
    flagged = stored(compound, back["id"])
    assert "clock_backwards" in flagged.flags.split()
    latest, fault = device_clock(compound)
    assert (latest, fault) == (now - timedelta(minutes=20), now)
    with transaction(compound.sessions, read_only=True) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "device.clock_backwards")
        ).all()
        assert [(e.subject_id, e.details_json) for e in events] == [
            (str(compound.device_id), mock.ANY)
        ]
        assert back["id"] in str(events[0].details_json)
    assert assert_chain_intact(compound) == 4
