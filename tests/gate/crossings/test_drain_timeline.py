"""Draining uploads: a chunk reads its households' timelines once (``cached_timelines``) and
the re-evaluation is the same as reading them per crossing: the same flags, annotations,
audit events, household state and an intact chain."""

from __future__ import annotations

import json
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from test_audit_chain import Site, make_site

from gate.audit.models import AuditEvent
from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import OfflineClaim, Origin, ScanRequest, record_scan
from gate.crossings.timeline import TIMELINE_ACTION, TimelineCache, cached_timelines, note_stored
from gate.households.models import Household
from gate.verification.log import verify_log
from passes import Direction

OUT, IN = Direction.OUT, Direction.IN
T10 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ALLOWED = OfflineClaim(allowed=True, code=None, codes=(), notes=(), rule_version=1)
# (household, gate, direction, minutes after 10:00, offline): gate 1 uploads first, then gate
# 0's earlier crossings arrive late, an online scan between; household 1 exits twice a day.
SCENARIO = [
    (0, 1, OUT, 20, True),
    (0, 1, IN, 30, True),
    (1, 2, OUT, 5, True),
    (1, 2, IN, 15, True),
    (0, 2, OUT, 40, False),
    (0, 0, OUT, 0, True),
    (0, 0, IN, 10, True),
    (1, 0, OUT, 25, True),
    (1, 0, IN, 35, True),
    (0, 0, OUT, 45, True),
    (1, 1, OUT, 1, True),
]


def _run(session: Session, site: Site, *, cached: bool) -> list[int]:
    """Store the scenario; with ``cached``, as one upload chunk does."""
    context = load_context(session, site.community.id)
    households = [row.id for row in site.households]
    ids = []
    block = cached_timelines(session, households) if cached else nullcontext()
    with block:
        for household, gate, direction, minutes, offline in SCENARIO:
            at = T10 + timedelta(minutes=minutes)
            result = record_scan(
                session,
                context=context,
                origin=Origin(gate_id=site.gates[gate].id),
                request=ScanRequest(
                    client_id=str(uuid.uuid4()),
                    pass_text=site.passes[households[household]],
                    direction=direction,
                    temperature=365,
                    scanned_at=at,
                ),
                now=at + timedelta(hours=1) if offline else at,
                offline=ALLOWED if offline else None,
            )
            counted = result.allowed and not result.rejected
            note_stored(session, result.household_id, result.crossing_id, counted=counted)
            ids.append(result.crossing_id)
    return ids


def _outcome(session: Session, site: Site, ids: list[int]) -> dict[str, Any]:
    """What the timeline decided, with crossing ids as positions in the scenario."""
    session.expire_all()
    position = {crossing_id: index for index, crossing_id in enumerate(ids)}
    rows = {row.id: row for row in session.scalars(select(Crossing).where(Crossing.id.in_(ids)))}
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == TIMELINE_ACTION, AuditEvent.community_id == site.community.id)
        .order_by(AuditEvent.id)
    ).all()
    return {
        "flags": [
            (
                rows[i].conflict,
                rows[i].conflict_code,
                position.get(rows[i].conflict_with_id or -1),
            )
            for i in ids
        ],
        "events": [
            (
                position[int(event.subject_id or 0)],
                json.loads(event.details_json)["conflict_code"],
            )
            for event in events
        ],
        "states": [
            (row.state_json, row.out_count)
            for row in (session.get_one(Household, h.id) for h in site.households)
        ],
    }


def test_a_chunk_with_cached_timelines_decides_as_reading_them_per_crossing(
    db_session: Session,
) -> None:
    plain = make_site(db_session, gates=3, households=2)
    cached = make_site(db_session, gates=3, households=2)

    expected = _outcome(db_session, plain, _run(db_session, plain, cached=False))
    found = _outcome(db_session, cached, _run(db_session, cached, cached=True))

    assert any(flag[0] for flag in expected["flags"])  # the scenario does flag crossings
    assert expected["events"]  # and annotates earlier ones
    assert found == expected
    assert verify_log(db_session, cached.community.id).ok


def test_the_cache_forgets_a_household_with_a_counted_crossing_it_did_not_see(
    db_session: Session,
) -> None:
    site = make_site(db_session, households=2)
    first, second = (row.id for row in site.households)
    with cached_timelines(db_session, [first, second]) as cache:
        cache.stored(first, 10**9, counted=False)  # refused: never in a timeline
        cache.stored(second, 10**9, counted=True)  # counted, not added by settle
        assert set(cache.timelines) == {first}
    assert TimelineCache.load(db_session, []).timelines == {}
