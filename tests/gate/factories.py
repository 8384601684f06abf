"""Row factories for database tests: each builds a valid row (and its parents), flushes, returns it.

Every argument has a sensible default, and unique fields get fresh values, so a test names only
what it is about::

    household = make_household(db_session, status=HouseholdStatus.QUARANTINED)
    device = make_device(db_session, community=household.community)
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.community.models import Area, Building, Community, Compound, Grid, RuleSet
from gate.crossings.models import Crossing
from gate.db import GENESIS_HASH
from gate.devices.models import Device, Gate
from gate.households.models import Household, Member
from gate.issuing.models import IssuedPass
from gate.signing.models import SigningKeyRecord
from passes.state import Direction

_serial = itertools.count(1)


def _next() -> int:
    return next(_serial)


def make_community(session: Session, **fields: Any) -> Community:
    """A community with a unique code."""
    n = _next()
    fields.setdefault("name", f"测试社区{n}")
    fields.setdefault("code", f"C{n}")
    community = Community(**fields)
    session.add(community)
    session.flush()
    return community


def make_building(
    session: Session, community: Community | None = None, *, code: str | None = None
) -> Building:
    """A building, with a fresh area, grid and compound above it."""
    community = community or make_community(session)
    n = _next()
    area = Area(community=community, name=f"片区{n}", code=f"A{n}")
    grid = Grid(area=area, name=f"网格{n}", code=f"G{n}", grid_worker_name="王网格")
    compound = Compound(grid=grid, name=f"小区{n}", code=f"P{n}")
    building = Building(compound=compound, name=f"{code or n}号楼", code=code or str(n))
    session.add(building)
    session.flush()
    return building


def make_household(
    session: Session,
    *,
    community: Community | None = None,
    building: Building | None = None,
    members: int = 1,
    **fields: Any,
) -> Household:
    """A household in ``building`` (a new one in ``community`` by default), with members."""
    if building is None:
        building = make_building(session, community)
    if community is None:
        community = building.compound.grid.area.community
    n = _next()
    fields.setdefault("code", f"{building.code}-1-{n}")
    fields.setdefault("unit", "1")
    fields.setdefault("room", str(n))
    household = Household(community_id=community.id, building=building, **fields)
    for i in range(members):
        household.members.append(
            Member(name=f"居民{n}-{i}", phone=f"1380000{n % 10000:04d}", is_head=i == 0)
        )
    session.add(household)
    session.flush()
    return household


def make_gate(session: Session, community: Community | None = None, **fields: Any) -> Gate:
    """A gate of ``community`` (a new one by default)."""
    community = community or make_community(session)
    n = _next()
    fields.setdefault("name", f"{n}号门")
    fields.setdefault("code", f"gate-{n}")
    gate = Gate(community=community, **fields)
    session.add(gate)
    session.flush()
    return gate


def make_device(
    session: Session, gate: Gate | None = None, *, community: Community | None = None, **fields: Any
) -> Device:
    """An enrolled scanner at ``gate`` (a new gate by default), with a unique token hash."""
    gate = gate or make_gate(session, community)
    fields.setdefault("name", f"scanner-{_next()}")
    fields.setdefault("token_hash", hashlib.sha256(secrets.token_bytes(16)).hexdigest())
    device = Device(gate=gate, **fields)
    session.add(device)
    session.flush()
    return device


def make_signing_key(
    session: Session, community: Community | None = None, **fields: Any
) -> SigningKeyRecord:
    """A signing key record with a unique ``key_id`` and a random 32-byte public key."""
    community = community or make_community(session)
    fields.setdefault("key_id", _next() % 0xFFFF)
    fields.setdefault("public_key", secrets.token_bytes(32))
    key = SigningKeyRecord(community_id=community.id, **fields)
    session.add(key)
    session.flush()
    return key


def make_pass(
    session: Session,
    household: Household | None = None,
    key: SigningKeyRecord | None = None,
    **fields: Any,
) -> IssuedPass:
    """An active pass for ``household`` at its current generation, valid for 30 days."""
    household = household or make_household(session)
    if key is None:
        key = make_signing_key(session, household.community)
    now = datetime.now(UTC)
    fields.setdefault("pass_id", secrets.token_bytes(12))
    fields.setdefault("generation", household.generation)
    fields.setdefault("issued_at", now)
    fields.setdefault("valid_until", now + timedelta(days=30))
    fields.setdefault("manual_code", f"M{_next():07d}")
    issued = IssuedPass(
        community_id=household.community_id, household=household, key_id=key.key_id, **fields
    )
    session.add(issued)
    session.flush()
    return issued


def make_user(
    session: Session, community: Community | None = None, role: Role = Role.OFFICE, **fields: Any
) -> User:
    """A user with a unique username. ``password_hash`` is a placeholder, not a real hash."""
    community = community or make_community(session)
    n = _next()
    fields.setdefault("username", f"user{n}")
    fields.setdefault("display_name", f"用户{n}")
    fields.setdefault("password_hash", "not-a-real-hash")
    user = User(community_id=community.id, role=role, **fields)
    session.add(user)
    session.flush()
    return user


def make_rule_set(
    session: Session, community: Community, rules_json: str = "{}", **fields: Any
) -> RuleSet:
    """The next rule-set version of ``community``, made current."""
    latest = session.scalar(
        select(func.max(RuleSet.version)).where(RuleSet.community_id == community.id)
    )
    fields.setdefault("version", (latest or 0) + 1)
    rule_set = RuleSet(community_id=community.id, rules_json=rules_json, **fields)
    session.add(rule_set)
    community.current_rule_version = rule_set.version
    session.flush()
    return rule_set


def make_crossing(
    session: Session,
    device: Device | None = None,
    household: Household | None = None,
    **fields: Any,
) -> Crossing:
    """A crossing appended to its gate's sequence.

    The hashes only *look* like a chain (prev_hash is the previous row's row_hash; row_hash is
    random): tests of the real chain use the crossings feature, not this factory.
    """
    device = device or make_device(session)
    gate = device.gate
    previous = session.execute(
        select(Crossing.gate_seq, Crossing.row_hash)
        .where(Crossing.gate_id == gate.id)
        .order_by(Crossing.gate_seq.desc())
        .limit(1)
    ).first()
    now = datetime.now(UTC)
    fields.setdefault("client_id", str(uuid.uuid4()))
    fields.setdefault("direction", Direction.OUT)
    fields.setdefault("scanned_at", now)
    fields.setdefault("allowed", True)
    fields.setdefault("rule_version", gate.community.current_rule_version)
    fields.setdefault("temperature_tenths", 365)
    fields.setdefault("gate_seq", 1 if previous is None else previous.gate_seq + 1)
    fields.setdefault("prev_hash", GENESIS_HASH if previous is None else previous.row_hash)
    fields.setdefault("row_hash", secrets.token_hex(32))
    crossing = Crossing(
        community_id=gate.community_id,
        gate_id=gate.id,
        device_id=device.id,
        household_id=None if household is None else household.id,
        **fields,
    )
    session.add(crossing)
    session.flush()
    return crossing
