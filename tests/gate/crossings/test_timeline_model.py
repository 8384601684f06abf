"""Model-based test of the household timeline (issue #11): random interleavings of three
gates, online and offline, with clocks off by up to 30 s and late uploads in random order,
driven through the real operations (``record_scan`` online, ``store_batch`` for offline
batches). At the end the server's household states equal a reference model fed the same
crossings in scan order, and the flagged crossings are exactly the reference model's
rule-breaking ones.

The reference is written from the rules' text, not from the timeline's code: people out
are a queue (an entry brings the longest-out home), an exit breaks the rules when someone
is out or when an allowed exit falls on the same or the two previous local dates (the
built-in rule: one exit per three calendar days). Its state is the core's ``advance``
applied in scan order (the definition of a household's state). Crossings span under two
days, so every exit that an ``already_out`` finds out also counts for the quota: a flag
cannot be taken back by an entry uploaded later (see gate/crossings/timeline.py).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_audit_chain import make_site

from gate.community.context import ContextCache, load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import OfflineClaim, Origin, ScanRequest, record_scan
from gate.crossings.uploads import UploadedScan, Uploader, store_batch
from gate.households.decision_state import household_state
from gate.households.models import Household as H
from gate.unit_of_work import UnitOfWork
from gate.verification.log import verify_log
from passes import Direction, HouseholdState, RuleSet, advance
from passes.schedule import counted_exits

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
SKEW = timedelta(seconds=30)
OUT, IN = Direction.OUT, Direction.IN


@dataclass
class Gate:
    index: int
    id: int
    skew: timedelta
    online: bool = True
    bundle: dict[int, HouseholdState] = field(default_factory=dict)
    queue: list[tuple[int, ScanRequest, OfflineClaim]] = field(default_factory=list)


@dataclass(frozen=True)
class Fed:
    """One crossing as the reference model is fed it."""

    crossing_id: int
    household_id: int
    scanned_at: datetime
    direction: Direction
    allowed: bool


def _offline_verdict(state: HouseholdState, direction: Direction, at: datetime) -> bool:
    if direction is IN:
        return True
    return not state.out_since and not counted_exits(state, RuleSet(), at)


def _reference(fed: list[Fed], bases: dict[int, HouseholdState]):  # type: ignore[no-untyped-def]
    rules = RuleSet()
    zone = rules.zone
    states = {h: replace(s, out_since=(), exits=()) for h, s in bases.items()}
    out: dict[int, list[datetime]] = {h: [] for h in bases}
    exits: dict[int, list[datetime]] = {h: [] for h in bases}
    breaking: set[int] = set()
    for item in sorted(fed, key=lambda f: (f.scanned_at, f.crossing_id)):
        if not item.allowed:
            continue
        h, at = item.household_id, item.scanned_at
        if item.direction is OUT:
            today = at.astimezone(zone).date()
            in_window = [e for e in exits[h] if (today - e.astimezone(zone).date()).days <= 2]
            if out[h] or in_window:
                breaking.add(item.crossing_id)
            out[h].append(at)
            exits[h].append(at)
        elif out[h]:
            out[h].pop(0)
        states[h] = advance(states[h], item.direction, True, at, rules)
    return states, breaking


def run_model(
    factory: sessionmaker[Session], *, households: int, crossings: int, seed: int
) -> None:
    rng = random.Random(seed)
    session = factory()
    site = make_site(session, gates=3, households=households)
    session.commit()
    community_id = site.community.id
    gates = [
        Gate(i, g.id, timedelta(seconds=rng.uniform(-30, 30))) for i, g in enumerate(site.gates)
    ]
    cache = ContextCache(ttl_seconds=3600)
    fed: list[Fed] = []

    def states() -> dict[int, HouseholdState]:
        columns = (H.id, H.generation, H.status, H.quarantine_until, H.state_json)
        rows = session.execute(select(*columns).where(H.community_id == community_id))
        return {row.id: household_state(row) for row in rows}

    def upload(gate: Gate, now: datetime, count: int) -> None:
        batch, gate.queue = gate.queue[:count], gate.queue[count:]
        if not batch:
            return
        with UnitOfWork(factory, writes=True) as unit:
            results = store_batch(
                unit,
                Uploader(Origin(gate_id=gate.id), community_id, cache),
                [UploadedScan(request, claim) for _, request, claim in batch],
                now=now,
            )
        for (h, request, claim), result in zip(batch, results, strict=True):
            assert result.status == "stored", result
            fed.append(
                Fed(result.crossing_id, h, request.scanned_at, request.direction, claim.allowed)
            )

    now = START
    step = timedelta(hours=40) / crossings
    for _ in range(crossings):
        now += step * rng.uniform(0.5, 1.5)
        gate = rng.choice(gates)
        if rng.random() < 0.15:  # the gate's link goes down or comes back
            gate.online = not gate.online
            if not gate.online:
                gate.bundle = states()
        if gate.online and gate.queue and rng.random() < 0.5:
            upload(gate, now, rng.randint(1, len(gate.queue)))
        household = rng.choice(site.households)
        direction = OUT if rng.random() < 0.55 else IN
        request = ScanRequest(
            client_id=str(uuid.uuid4()),
            pass_text=site.passes[household.id],
            direction=direction,
            temperature=365,
            scanned_at=now if gate.online else now + gate.skew,
        )
        if gate.online:
            result = record_scan(
                session,
                context=load_context(session, community_id),
                origin=Origin(gate_id=gate.id),
                request=request,
                now=now,
            )
            session.commit()
            fed.append(Fed(result.crossing_id, household.id, now, direction, result.allowed))
        else:
            state = gate.bundle[household.id]
            allowed = _offline_verdict(state, direction, request.scanned_at)
            gate.bundle[household.id] = advance(
                state, direction, allowed, request.scanned_at, RuleSet()
            )
            claim = OfflineClaim(allowed, None if allowed else "quota", (), (), 1)
            gate.queue.append((household.id, request, claim))
    for gate in rng.sample(gates, len(gates)):  # the rest, late, in random order
        now += timedelta(minutes=5)
        while gate.queue:
            upload(gate, now, rng.randint(1, len(gate.queue)))

    final = states()
    expected, breaking = _reference(fed, final)
    assert final == expected
    rows = session.execute(select(Crossing.id, Crossing.conflict, Crossing.conflict_with_id)).all()
    flagged = {r.id for r in rows if r.conflict or r.conflict_with_id is not None}
    assert len(fed) == crossings == len(rows)
    assert flagged == breaking
    assert breaking, "the interleavings broke no rule: nothing was tested"
    assert verify_log(session, community_id).ok
    session.close()


@pytest.mark.parametrize(
    ("households", "crossings", "seed"),
    [(200, 2000, 1), (20, 200, 2)],  # the size the trust issue names, and a denser one
)
def test_timeline_matches_the_reference_model(
    db_session_factory: sessionmaker[Session], households: int, crossings: int, seed: int
) -> None:
    run_model(db_session_factory, households=households, crossings=crossings, seed=seed)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_timeline_matches_the_reference_model_at_scale(
    db_session_factory: sessionmaker[Session],
) -> None:
    run_model(db_session_factory, households=2000, crossings=20000, seed=11)  # 10x
