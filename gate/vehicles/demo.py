"""The demo compound's cars: the vehicle rule (闽C plates local, outside plates refused), a few
residents' cars with their passes, and a day's cars at the first gate, one outside plate
turned away (外地车辆，禁止进入) in the log, one let out while the gate was offline (decided
from its bundle, uploaded half an hour later: 离线)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.operations import find_user
from gate.community.context import load_context
from gate.community.models import Community, RuleSet
from gate.crossings.operations import OfflineClaim, Origin
from gate.devices.models import Gate
from gate.households.models import Household
from gate.vehicles.at_gate import VehicleReport, record_vehicle_crossing
from gate.vehicles.issuing import issue_vehicle_pass
from gate.vehicles.registry import add_vehicle
from passes import Direction, HouseholdStatus, rules_from_json
from passes.rules import LocalPlates, OutsidePlates, VehicleRules

ACTOR = "demo"
DEMO_RULE = VehicleRules(("闽C",), LocalPlates.ALLOW, OutsidePlates.REFUSE)
DEMO_CARS = (
    ("闽C12345", "白色轿车"),
    ("闽CD23456", "绿牌新能源"),
    ("粤B88888", "外地牌照，本户自用"),
)


def add_demo_vehicles(session: Session, community_id: int, *, now: datetime) -> None:
    """The demo's vehicle rule, three registered cars with passes, and six car crossings at
    the first gate (two passes, a local plate typed, an outside plate refused, one leaving,
    one leaving while the gate was offline)."""
    community = session.get(Community, community_id)
    record = session.scalar(
        select(RuleSet).where(
            RuleSet.community_id == community_id,
            RuleSet.version == (community.current_rule_version if community else 1),
        )
    )
    if community is None or record is None:  # pragma: no cover - the demo made both
        return
    # The demo's first rules gain the vehicle rule in place: the crossings already decided
    # with them concern people, whom it does not touch.
    record.rules_json = replace(rules_from_json(record.rules_json), vehicles=DEMO_RULE).to_json()
    everyone = list(
        session.scalars(
            select(Household).where(Household.community_id == community_id).order_by(Household.id)
        )
    )
    # Two cars of households free to go out, the third of a quarantined one (its exit refused).
    normal = [row for row in everyone if row.status is HouseholdStatus.NORMAL]
    quarantined = [row for row in everyone if row.status is HouseholdStatus.QUARANTINED]
    households = [*normal[:2], *(quarantined or normal[2:])[:1]]
    texts = []
    for household, (plate, note) in zip(households, DEMO_CARS, strict=False):
        add_vehicle(
            session,
            community_id=community_id,
            household_code=household.code,
            plate=plate,
            note=note,
            actor=ACTOR,
            now=now - timedelta(days=2),
        )
        issued = issue_vehicle_pass(
            session,
            community_id=community_id,
            plate=plate,
            actor=ACTOR,
            now=now - timedelta(days=2),
        )
        texts.append(issued.text)
    gate_id = session.scalar(
        select(Gate.id).where(Gate.community_id == community_id).order_by(Gate.id).limit(1)
    )
    if gate_id is None or not texts:  # pragma: no cover - the demo always has both
        return
    volunteer = find_user(session, "volunteer")
    origin = Origin(gate_id=gate_id, user_id=None if volunteer is None else volunteer.id)
    context = load_context(session, community_id)
    cars: tuple[tuple[str | None, str | None, Direction, int], ...] = (
        (texts[0], None, Direction.OUT, 5),
        (texts[0], "闽C12345", Direction.IN, 4),
        (None, "闽C67890", Direction.IN, 3),
        (None, "京A12345", Direction.IN, 2),  # 外地车辆: turned away
        (texts[-1], None, Direction.OUT, 1),
    )
    for n, (pass_text, typed, direction, hours_ago) in enumerate(cars):
        at = now - timedelta(hours=hours_ago)
        record_vehicle_crossing(
            session,
            context=context,
            origin=origin,
            report=VehicleReport(
                client_id=f"00000000-0000-4000-8000-{0xCA7000 + n:012x}",
                pass_text=pass_text,
                plate=typed,
                direction=direction,
                scanned_at=at,
                operator="志愿者",
            ),
            now=at,
        )
    # A car let out while the gate's network was down: decided on the phone from its bundle,
    # uploaded half an hour later (stored as the gate decided it, marked offline).
    offline_at = now - timedelta(minutes=90)
    record_vehicle_crossing(
        session,
        context=context,
        origin=origin,
        report=VehicleReport(
            client_id=f"00000000-0000-4000-8000-{0xCA7000 + len(cars):012x}",
            pass_text=texts[min(1, len(texts) - 1)],
            plate=None,
            direction=Direction.OUT,
            scanned_at=offline_at,
            operator="志愿者",
        ),
        now=offline_at + timedelta(minutes=30),
        offline=OfflineClaim(True, None, (), ("vehicle_pass",), context.rules.version),
    )
