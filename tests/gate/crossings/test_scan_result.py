"""``record_scan`` answers with a frozen :class:`ScanResult` of plain values: what was stored,
read back the same for a replay, with no ORM object made up for the caller."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

# The site builder is shared with the audit tests.
from test_audit_chain import Site, make_site

from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import (
    OfflineClaim,
    Origin,
    ScanRequest,
    ScanResult,
    record_rejected_upload,
    record_scan,
)
from gate.households.models import Household
from passes import Direction

MORNING = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
OUT = Direction.OUT


@pytest.fixture
def site(db_session: Session) -> Site:
    return make_site(db_session, households=2)


def _request(site: Site, household: Household, *, client_id: str | None = None) -> ScanRequest:
    return ScanRequest(
        client_id=client_id or str(uuid.uuid4()),
        pass_text=site.passes[household.id],
        direction=OUT,
        temperature=365,
        scanned_at=MORNING,
        operator="志愿者",
        latency_ms=90,
    )


def _record(
    session: Session, site: Site, request: ScanRequest, offline: OfflineClaim | None = None
) -> ScanResult:
    return record_scan(
        session,
        context=load_context(session, site.community.id),
        origin=Origin(gate_id=site.gates[0].id),
        request=request,
        now=MORNING + timedelta(seconds=1),
        offline=offline,
    )


def test_the_result_is_frozen_and_says_what_was_stored(db_session: Session, site: Site) -> None:
    household = site.households[0]
    result = _record(db_session, site, _request(site, household))

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.allowed = False  # type: ignore[misc]
    stored = db_session.get_one(Crossing, result.crossing_id)
    assert result.id == result.crossing_id == stored.id
    for name in (
        "client_id",
        "allowed",
        "code",
        "codes",
        "flags",
        "next_exit_at",
        "rule_version",
        "direction",
        "scanned_at",
        "household_id",
        "gate_id",
        "gate_seq",
        "offline",
        "conflict",
        "conflict_code",
        "rejected",
    ):
        assert getattr(result, name) == getattr(stored, name), name
    assert (result.allowed, result.replay, result.gate_seq) == (True, False, 1)
    assert result.household_label is not None
    assert result.household_label.startswith(household.code)


def test_no_orm_instance_is_made_up_for_the_stored_crossing(
    db_session: Session, site: Site
) -> None:
    _record(db_session, site, _request(site, site.households[0]))

    held = [item for item in db_session.identity_map.values() if isinstance(item, Crossing)]
    assert held == []
    assert not db_session.new


def test_a_replay_reads_back_the_same_result(db_session: Session, site: Site) -> None:
    request = _request(site, site.households[0])
    first = _record(db_session, site, request)
    again = _record(db_session, site, request)

    assert again.replay is True
    assert dataclasses.replace(again, replay=False) == first


def test_an_offline_replay_carries_no_label(db_session: Session, site: Site) -> None:
    claim = OfflineClaim(allowed=True, code=None, codes=(), notes=(), rule_version=1)
    request = _request(site, site.households[1])
    first = _record(db_session, site, request, offline=claim)
    again = _record(db_session, site, request, offline=claim)

    assert (first.offline, first.household_label) == (True, None)
    assert (again.replay, again.household_label, again.crossing_id) == (
        True,
        None,
        first.crossing_id,
    )


def test_a_rejected_upload_is_chained_after_the_scans_of_its_gate(
    db_session: Session, site: Site
) -> None:
    _record(db_session, site, _request(site, site.households[0]))
    rejected = record_rejected_upload(
        db_session,
        context=load_context(db_session, site.community.id),
        origin=Origin(gate_id=site.gates[0].id),
        client_id=str(uuid.uuid4()),
        raw='{"pass": 1}',
        reason="pass: must be non-empty text",
        now=MORNING,
    )

    assert (rejected.rejected, rejected.allowed, rejected.code) == (
        True,
        False,
        "rejected_upload",
    )
    assert rejected.gate_seq == 2
