"""One household timeline, re-evaluated in scan order (issue #11, findings 2 and 3).

Gates decide with what they know; once a crossing arrives that happened before crossings
already stored for its household, the server replays the household's allowed crossings in
scan order and flags every exit the rules would have refused, with the crossing it
conflicts with; the household's state is the replay's final state. The hash chain still
verifies: the crossing just stored is re-sealed, earlier ones are annotated outside it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_audit_chain import Site, make_site

from gate.audit.models import AuditEvent
from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import OfflineClaim, Origin, ScanRequest, ScanResult, record_scan
from gate.crossings.queries import conflicts
from gate.crossings.timeline import Entry, replay
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.verification.log import verify_log
from passes import Code, Direction, HouseholdState, RuleSet

OUT, IN = Direction.OUT, Direction.IN
T10 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ALLOWED = OfflineClaim(allowed=True, code=None, codes=(), notes=(), rule_version=1)


@pytest.fixture
def site(db_session: Session) -> Site:
    return make_site(db_session, gates=3, households=2)


def _scan(
    session: Session,
    site: Site,
    direction: Direction,
    at: datetime,
    *,
    gate: int,
    offline: bool = False,
    now: datetime | None = None,
    household: Household | None = None,
) -> ScanResult:
    row = household or site.households[0]
    return record_scan(
        session,
        context=load_context(session, site.community.id),
        origin=Origin(gate_id=site.gates[gate].id),
        request=ScanRequest(
            client_id=str(uuid.uuid4()),
            pass_text=site.passes[row.id],
            direction=direction,
            temperature=365,
            scanned_at=at,
        ),
        now=now or at,
        offline=ALLOWED if offline else None,
    )


def _flags(session: Session) -> dict[int, tuple[str | None, int | None]]:
    """Flagged crossing id -> (hashed conflict code, crossing it conflicts with)."""
    rows = session.execute(select(Crossing)).scalars().all()
    session.expire_all()
    return {
        row.id: (row.conflict_code, row.conflict_with_id)
        for row in rows
        if row.conflict or row.conflict_with_id is not None
    }


def _timeline_events(session: Session) -> dict[int, str]:
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "crossing.timeline_conflict")
    ).all()
    return {int(e.subject_id or 0): json.loads(e.details_json)["conflict_code"] for e in events}


def _state(session: Session, site: Site, index: int = 0) -> HouseholdState:
    session.expire_all()
    return household_state(session.get_one(Household, site.households[index].id))


def _chain_intact(session: Session, site: Site) -> None:
    report = verify_log(session, site.community.id)
    assert report.ok, report


def test_offline_first_then_online_flags_the_online_exit(db_session: Session, site: Site) -> None:
    # Gate A offline: OUT 10:00, IN 10:10, not yet uploaded. Gate B online: OUT 10:20 is
    # allowed (the server does not know). A syncs at 10:30.
    online = _scan(db_session, site, OUT, T10 + timedelta(minutes=20), gate=1)
    assert online.allowed
    sync = T10 + timedelta(minutes=30)
    a_out = _scan(db_session, site, OUT, T10, gate=0, offline=True, now=sync)
    a_in = _scan(db_session, site, IN, T10 + timedelta(minutes=10), gate=0, offline=True, now=sync)

    assert not a_out.conflict
    assert not a_in.conflict
    assert _flags(db_session) == {online.crossing_id: (None, a_out.crossing_id)}
    assert _timeline_events(db_session) == {online.crossing_id: "quota"}
    state = _state(db_session, site)
    assert state.out_since == (T10 + timedelta(minutes=20),)
    assert state.exits == (T10, T10 + timedelta(minutes=20))
    _chain_intact(db_session, site)
    # The office reviews it like any conflict.
    community_id = db_session.get(Crossing, online.crossing_id).community_id
    pending = conflicts(db_session, community_id)
    assert [c.id for c in pending] == [online.crossing_id]


def test_online_then_offline_flags_the_offline_exit(db_session: Session, site: Site) -> None:
    online_out = _scan(db_session, site, OUT, T10, gate=1)
    _scan(db_session, site, IN, T10 + timedelta(minutes=10), gate=1)
    sync = T10 + timedelta(hours=1)
    a_out = _scan(
        db_session, site, OUT, T10 + timedelta(minutes=20), gate=0, offline=True, now=sync
    )

    assert (a_out.conflict, a_out.conflict_code) == (True, "quota")
    assert _flags(db_session) == {a_out.crossing_id: ("quota", online_out.crossing_id)}
    _chain_intact(db_session, site)


def test_online_then_offline_while_still_out_is_already_out(
    db_session: Session, site: Site
) -> None:
    online_out = _scan(db_session, site, OUT, T10, gate=1)
    sync = T10 + timedelta(hours=1)
    a_out = _scan(db_session, site, OUT, T10 + timedelta(minutes=5), gate=0, offline=True, now=sync)

    assert _flags(db_session) == {a_out.crossing_id: ("already_out", online_out.crossing_id)}
    assert _state(db_session, site).out_since == (T10, T10 + timedelta(minutes=5))


@pytest.mark.parametrize("b_first", [True, False], ids=["b_uploads_first", "a_uploads_first"])
def test_two_offline_gates_interleaved(db_session: Session, site: Site, b_first: bool) -> None:
    # A: OUT 10:00, IN 10:30. B: OUT 10:10, IN 10:40. In scan order B's exit finds A's
    # person out; whichever uploads first, B's exit is the one flagged, with A's exit.
    sync = T10 + timedelta(hours=2)
    a = [(OUT, T10), (IN, T10 + timedelta(minutes=30))]
    b = [(OUT, T10 + timedelta(minutes=10)), (IN, T10 + timedelta(minutes=40))]
    stored: dict[str, list[ScanResult]] = {"a": [], "b": []}
    for name in ("b", "a") if b_first else ("a", "b"):
        gate = 1 if name == "b" else 0
        for direction, at in b if name == "b" else a:
            stored[name].append(
                _scan(db_session, site, direction, at, gate=gate, offline=True, now=sync)
            )

    a_out, b_out = stored["a"][0], stored["b"][0]
    flags = _flags(db_session)
    assert set(flags) == {b_out.crossing_id}
    assert flags[b_out.crossing_id][1] == a_out.crossing_id
    if not b_first:  # B's exit was the crossing being stored: its hashed flag says why
        assert flags[b_out.crossing_id][0] == "already_out"
    state = _state(db_session, site)
    assert (state.out_since, state.exits) == ((), (T10, T10 + timedelta(minutes=10)))
    _chain_intact(db_session, site)


def test_a_future_dated_accepted_item_cannot_leave_state_wrong(
    db_session: Session, site: Site
) -> None:
    # An offline OUT dated 3 minutes ahead of the server (within the accepted bound) is
    # uploaded at 10:00; an online IN at 10:01 comes before it in scan order: nobody was
    # out then, so the person who leaves at 10:03 is out afterwards.
    ahead = T10 + timedelta(minutes=3)
    _scan(db_session, site, OUT, ahead, gate=0, offline=True, now=T10)
    back = _scan(db_session, site, IN, T10 + timedelta(minutes=1), gate=1)

    assert back.allowed
    state = _state(db_session, site)
    assert (state.out_since, state.exits) == ((ahead,), (ahead,))
    # An online OUT at 10:02 is decided with what the server knows (someone leaves at
    # 10:03 and is counted as out): refused, so it changes nothing.
    early = _scan(db_session, site, OUT, T10 + timedelta(minutes=2), gate=1)
    assert (early.allowed, early.code) == (False, "already_out")
    assert _state(db_session, site) == state
    assert _flags(db_session) == {}
    _chain_intact(db_session, site)


def test_an_override_is_never_flagged_but_counts() -> None:
    rules = RuleSet()
    entries = [
        Entry(1, T10, OUT),
        Entry(2, T10 + timedelta(minutes=1), IN),
        Entry(3, T10 + timedelta(minutes=2), OUT, override=True),
        Entry(4, T10 + timedelta(minutes=3), OUT),
    ]
    outcome = replay(HouseholdState(household_id=7), entries, rules)

    assert [(b.crossing_id, b.code, b.with_id) for b in outcome.breaches] == [
        (4, Code.ALREADY_OUT, 3)
    ]
    assert outcome.state.out_since == (T10 + timedelta(minutes=2), T10 + timedelta(minutes=3))


def test_refused_crossings_are_not_in_the_timeline(db_session: Session, site: Site) -> None:
    first = _scan(db_session, site, OUT, T10, gate=1)
    refused = _scan(db_session, site, OUT, T10 + timedelta(minutes=5), gate=1)
    assert first.allowed
    assert not refused.allowed
    sync = T10 + timedelta(hours=1)
    _scan(db_session, site, IN, T10 + timedelta(minutes=1), gate=0, offline=True, now=sync)

    assert _flags(db_session) == {}
    state = _state(db_session, site)
    assert (state.out_since, state.exits) == ((), (T10,))
