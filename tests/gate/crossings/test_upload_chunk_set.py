"""The set-based upload chunk (``gate.crossings.upload_chunk``) stores what the item path
stores: the same batch run through both (the item path as ``uploads._store_chunk`` runs it:
``record_scan`` per item under the chunk's cached timelines) gives the same rows column by
column (chain hashes included), the same household states, timeline events, gate head and
answers; and anything outside its common case makes it answer None having written nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from test_audit_chain import Site, make_site

from gate.audit.models import AuditEvent
from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import OfflineClaim, Origin, ScanRequest, ScanResult, record_scan
from gate.crossings.timeline import TIMELINE_ACTION, cached_timelines, note_stored
from gate.crossings.upload_chunk import OfflineItem, store_offline_chunk
from gate.devices.models import Gate
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.roster.models import DutyShift
from gate.verification.log import verify_log
from passes import Direction, Override

OUT, IN = Direction.OUT, Direction.IN
T = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
NOW = T + timedelta(hours=5)
ALLOWED = OfflineClaim(allowed=True, code=None, codes=(), notes=(), rule_version=1)
REFUSED = OfflineClaim(
    allowed=False, code="already_out", codes=("already_out",), notes=(), rule_version=1
)
# (household, direction, minutes after T, claim, temperature, people): households 0-2 with
# late and out-of-order crossings (within the chunk and against rows stored before it), a
# quota conflict, a fever, a scanner's refusal, a group; household 3's pass is revoked;
# household 4's exit arrives after a later one, which the replay then annotates (a row of
# the chunk itself, not yet written).
BATCH = [
    (0, OUT, 0, ALLOWED, 365, 1),
    (0, IN, 10, ALLOWED, 366, 1),
    (1, OUT, 20, ALLOWED, 364, 1),
    (1, IN, 30, ALLOWED, 365, 1),
    (1, OUT, 40, ALLOWED, 365, 1),
    (2, OUT, 50, ALLOWED, 385, 1),
    (2, OUT, 55, REFUSED, 365, 1),
    (1, IN, 45, ALLOWED, 365, 2),
    (0, OUT, 5, ALLOWED, 365, 1),
    (3, OUT, 58, ALLOWED, 365, 1),
    (2, IN, 57, ALLOWED, "sensor_error", 1),
    (0, IN, 70, ALLOWED, 365, 1),
    (4, OUT, 100, ALLOWED, 365, 1),
    (4, OUT, 90, ALLOWED, 365, 1),
]


def _site(session: Session) -> tuple[Site, Origin]:
    site = make_site(session, households=5)
    gate = site.gates[0]
    session.add(
        DutyShift(
            community_id=site.community.id,
            gate_id=gate.id,
            starts_at=T + timedelta(minutes=30),
            ends_at=T + timedelta(minutes=56),
            created_by="test",
        )
    )
    revoked = site.households[3].id
    session.execute(
        update(IssuedPass)
        .where(IssuedPass.household_id == revoked)
        .values(status=PassStatus.REVOKED)
    )
    session.flush()
    return site, Origin(gate_id=gate.id, device_id=None, user_id=None)


def _request(
    site: Site, household: int, direction: Direction, minutes: int, **fields: Any
) -> ScanRequest:
    return ScanRequest(
        client_id=str(uuid.uuid4()),
        pass_text=site.passes[site.households[household].id],
        direction=direction,
        temperature=fields.pop("temperature", 365),
        scanned_at=T + timedelta(minutes=minutes),
        operator="志愿者",
        latency_ms=80,
        clock_offset_ms=-1200,
        **fields,
    )


def _items(site: Site) -> list[OfflineItem]:
    items = []
    for household, direction, minutes, claim, temperature, people in BATCH:
        request = _request(
            site, household, direction, minutes, temperature=temperature, people=people
        )
        items.append(OfflineItem(request, claim, site.households[household].id))
    return items


def _item_path(
    session: Session, site: Site, origin: Origin, items: list[OfflineItem]
) -> list[ScanResult]:
    context = load_context(session, site.community.id)
    results = []
    with cached_timelines(session, [item.household_id for item in items]):
        for item in items:
            recorded = record_scan(
                session,
                context=context,
                origin=origin,
                request=item.request,
                now=NOW,
                offline=item.claim,
            )
            counted = recorded.allowed and not recorded.rejected
            note_stored(session, recorded.household_id, recorded.crossing_id, counted=counted)
            results.append(recorded)
    return results


def _set_path(
    session: Session, site: Site, origin: Origin, items: list[OfflineItem]
) -> list[ScanResult]:
    context = load_context(session, site.community.id)
    results = store_offline_chunk(session, context=context, origin=origin, items=items, now=NOW)
    assert results is not None
    return results


def _stored(session: Session, site: Site, before: int) -> dict[str, Any]:
    """Everything the chunk wrote, crossing ids after ``before`` as positions."""
    session.expire_all()
    rows = session.scalars(
        select(Crossing)
        .where(Crossing.community_id == site.community.id)
        .order_by(Crossing.gate_seq)
    ).all()
    new = [row.id for row in rows if row.id > before]
    position = {crossing_id: f"new{index}" for index, crossing_id in enumerate(new)}

    def named(crossing_id: object) -> object:
        return position.get(crossing_id, crossing_id)  # type: ignore[call-overload]

    columns = [column.key for column in Crossing.__table__.columns]
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.community_id == site.community.id, AuditEvent.action == TIMELINE_ACTION)
        .order_by(AuditEvent.id)
    ).all()
    gate = session.get_one(Gate, site.gates[0].id)
    households = [session.get_one(Household, h.id) for h in site.households]
    return {
        "rows": [
            {
                name: named(getattr(row, name))
                if name in ("id", "conflict_with_id")
                else getattr(row, name)
                for name in columns
            }
            for row in rows
        ],
        "events": [
            (
                named(int(event.subject_id or 0)),
                {
                    k: named(v) if k == "conflict_with_id" else v
                    for k, v in json.loads(event.details_json).items()
                },
            )
            for event in events
        ],
        "households": [(row.state_json, row.out_count) for row in households],
        "stamped": [row.updated_at == NOW for row in households],
        "head": (gate.chain_seq, gate.chain_hash),
    }


def _answers(results: list[ScanResult], before: int) -> list[tuple[object, ...]]:
    return [
        (
            "new" if result.crossing_id > before else result.crossing_id,
            result.client_id,
            result.allowed,
            result.code,
            result.conflict,
            result.conflict_code,
            result.scanned_at,
            result.gate_seq,
            result.household_id,
            result.replay,
        )
        for result in results
    ]


def _both(session: Session, site: Site, origin: Origin, items: list[OfflineItem]) -> None:
    before = session.scalar(select(Crossing.id).order_by(Crossing.id.desc()).limit(1)) or 0
    savepoint = session.begin_nested()
    expected_answers = _answers(_item_path(session, site, origin, items), before)
    expected = _stored(session, site, before)
    savepoint.rollback()
    session.expire_all()
    before_set = session.scalar(select(Crossing.id).order_by(Crossing.id.desc()).limit(1)) or 0
    assert before_set == before
    # PostgreSQL's id sequence does not roll back: the set path's ids come after the item path's.
    found_answers = _answers(_set_path(session, site, origin, items), before)
    found = _stored(session, site, before)
    assert len(found["rows"]) == len(expected["rows"])
    for mine, theirs in zip(found["rows"], expected["rows"], strict=True):
        assert mine == theirs
    assert found == expected
    assert found_answers == expected_answers
    assert verify_log(session, site.community.id).ok


def test_a_batch_stores_the_same_rows_set_based_as_item_by_item(db_session: Session) -> None:
    site, origin = _site(db_session)
    # Stored before the chunk: an exit later than the chunk's (annotated by its replay) and an
    # entry of household 2.
    _item_path(
        db_session,
        site,
        origin,
        [
            OfflineItem(_request(site, 0, OUT, 60), ALLOWED, site.households[0].id),
            OfflineItem(_request(site, 2, IN, 1), ALLOWED, site.households[2].id),
        ],
    )
    items = _items(site)
    _both(db_session, site, origin, items)
    found = _stored(db_session, site, 0)
    assert any(row["conflict"] for row in found["rows"])  # the batch does flag crossings
    assert found["events"]  # and annotates rows stored before it


def test_a_chunk_of_one_household_and_gate_shifts(db_session: Session) -> None:
    site, origin = _site(db_session)
    items = [
        OfflineItem(_request(site, 1, direction, minutes), ALLOWED, site.households[1].id)
        for direction, minutes in [(OUT, 25), (IN, 35), (OUT, 50), (IN, 55), (OUT, 80)]
    ]
    _both(db_session, site, origin, items)


def _none_and_nothing_written(
    session: Session, site: Site, origin: Origin, items: list[OfflineItem]
) -> None:
    count = len(session.scalars(select(Crossing.id)).all())
    context = load_context(session, site.community.id)
    assert (
        store_offline_chunk(session, context=context, origin=origin, items=items, now=NOW) is None
    )
    assert len(session.scalars(select(Crossing.id)).all()) == count


def test_outside_the_common_case_it_answers_none_and_writes_nothing(db_session: Session) -> None:
    site, origin = _site(db_session)
    items = _items(site)[:3]
    first = items[0]
    changes: list[Callable[[list[OfflineItem]], list[OfflineItem]]] = [
        lambda chunk: [*chunk, first],  # a client id twice: the second is a replay
        lambda chunk: [
            *chunk,
            replace(first, request=replace(first.request, scanned_at=T - timedelta(days=30))),
        ],  # before the pass was issued
        lambda chunk: [
            *chunk,
            replace(
                first,
                request=replace(first.request, client_id=str(uuid.uuid4()), pass_text="CP1:X"),
            ),
        ],  # does not verify
    ]
    for change in changes:
        _none_and_nothing_written(db_session, site, origin, change(items))
    # A client id already stored; a gate of another community.
    _item_path(db_session, site, origin, [items[0]])
    _none_and_nothing_written(db_session, site, origin, items)
    other, other_origin = _site(db_session)
    _none_and_nothing_written(db_session, site, other_origin, _items(site)[3:5])
    # An override is never given to it (the uploads leave such items to the item path).
    override = Override(supervisor="王", reason="急诊")
    assert replace(first.request, override=override).override is override
    assert other.community.id != site.community.id


def test_a_sealed_building_decides_alike(db_session: Session) -> None:
    from gate.zones.models import ZoneLockRecord
    from passes import ZoneLevel, ZoneScope

    site, origin = _site(db_session)
    for household, starts, ends in [(1, 15, 42), (2, -60, 10)]:  # the second ended before
        db_session.add(
            ZoneLockRecord(
                community_id=site.community.id,
                level=ZoneLevel.SEALED,
                scope=ZoneScope.BUILDING,
                building_id=site.households[household].building_id,
                starts_at=T + timedelta(minutes=starts),
                ends_at=T + timedelta(minutes=ends),
                created_by="test",
            )
        )
    db_session.flush()
    items = [
        OfflineItem(
            _request(site, household, direction, minutes), ALLOWED, site.households[household].id
        )
        for household, direction, minutes in [
            (1, OUT, 25),
            (2, OUT, 26),
            (1, IN, 35),
            (1, OUT, 41),
            (2, IN, 50),
            (1, IN, 55),
            (1, OUT, 60),
        ]
    ]
    _both(db_session, site, origin, items)
    found = _stored(db_session, site, 0)
    assert any(row["conflict_code"] == "zone_sealed_building" for row in found["rows"])
