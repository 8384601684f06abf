"""A community with a real signing key, a gate, households with passes and a genuine log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factories import make_community, make_device, make_gate, make_household
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.community.models import Community
from gate.crossings.operations import Origin, ScanRequest, record_scan
from gate.devices.models import Gate
from gate.households.models import Household
from gate.issuing.models import IssuedPass
from gate.signing.operations import create_signing_key, load_private_key
from passes import Direction, Pass, SigningKey, new_pass_id

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@dataclass
class Site:
    community: Community
    key: SigningKey
    gate: Gate
    households: list[Household]
    passes: dict[int, str]


def make_site(session: Session, keys_dir: Path, *, households: int = 2) -> Site:
    community = make_community(session)
    record = create_signing_key(
        session,
        community_id=community.id,
        keys_dir=keys_dir,
        actor="test",
        now=T0 - timedelta(days=2),
    )
    key = load_private_key(record)
    gate = make_gate(session, community)
    make_device(session, gate)
    rows = [make_household(session, community=community, members=2) for _ in range(households)]
    issued = T0 - timedelta(days=1)
    passes: dict[int, str] = {}
    for row in rows:
        pass_id = new_pass_id()
        session.add(
            IssuedPass(
                community_id=community.id,
                household=row,
                key_id=record.key_id,
                pass_id=pass_id,
                generation=row.generation,
                issued_at=issued,
                valid_until=issued + timedelta(days=90),
                manual_code=f"M{pass_id.hex()[:8]}",
            )
        )
        passes[row.id] = key.sign(
            Pass(
                key_id=key.entry.key_id,
                pass_id=pass_id,
                household_id=row.id,
                community_id=community.id,
                generation=row.generation,
                issued_at=issued,
                valid_until=issued + timedelta(days=90),
            )
        )
    session.flush()
    return Site(community, key, gate, rows, passes)


def scan(session: Session, site: Site, household: Household, at: datetime, out: bool) -> None:
    request = ScanRequest(
        client_id=str(uuid.uuid4()),
        pass_text=site.passes[household.id],
        direction=Direction.OUT if out else Direction.IN,
        temperature=368,
        scanned_at=at,
        operator="志愿者",
        latency_ms=100,
    )
    record_scan(
        session,
        context=load_context(session, site.community.id),
        origin=Origin(gate_id=site.gate.id),
        request=request,
        now=at,
    )
    session.expire_all()


def build_log(session: Session, site: Site, days: int = 4) -> None:
    """Each household goes out and comes back once a day from T0 for ``days`` days."""
    for day in range(days):
        for index, household in enumerate(site.households):
            at = T0 + timedelta(days=day, minutes=10 * index)
            scan(session, site, household, at, out=True)
            scan(session, site, household, at + timedelta(hours=1), out=False)
