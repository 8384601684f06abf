"""A demo compound: hierarchy, ~200 households, keys, passes, a gate, devices, a week of crossings.

Everything goes through the real operations (issuing, the scan decision, the hash
chain), so the demo log verifies and the office pages show plausible data.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.community.context import load_context
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.community.models import RuleSet as RuleSetRecord
from gate.crossings.operations import Origin, ScanRequest, record_scan
from gate.devices.models import Device, Gate
from gate.devices.operations import create_device
from gate.errands.demo import add_demo_errands
from gate.households.models import Household, Member
from gate.issuing.operations import issue_pass
from gate.roster.demo import add_demo_roster
from gate.settings import DEFAULT_TIMEZONE
from gate.signing.operations import active_signing_key, create_signing_key
from gate.vehicles.demo import add_demo_vehicles
from gate.visitors.demo import add_demo_visitors
from gate.zones.demo import add_demo_zones
from passes import Direction, HouseholdStatus, RuleSet

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡"
    "蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文辉晓东海燕春梅德福"
DEMO_ACTOR = "demo"
DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("admin", Role.ADMIN, "管理员"),
    ("office", Role.OFFICE, "社区办公室"),
    ("auditor", Role.AUDITOR, "审计员"),
    ("supervisor", Role.SUPERVISOR, "值班负责人"),
    ("volunteer", Role.VOLUNTEER, "志愿者"),
)
"""The demo's logins: username, role, display name. Passwords are random per demo."""


@dataclass(frozen=True)
class DemoLogin:
    """One demo login, printed once by ``checkpoint demo``."""

    username: str
    role: Role
    password: str


@dataclass(frozen=True)
class DemoSummary:
    """What the demo created, for the console."""

    community_id: int
    households: int
    crossings: int
    enrolment_code: str
    logins: tuple[DemoLogin, ...] = ()


def build_demo(
    session: Session,
    *,
    keys_dir: Path,
    now: datetime,
    seed: int = 20221122,
    households: int = 200,
    days: int = 7,
    on_progress: Callable[[str], None] = lambda _message: None,
    timezone: str = DEFAULT_TIMEZONE,
) -> DemoSummary:
    """Create the demo compound in an empty database (flushes; the caller commits).

    ``timezone`` is the compound's zone (the CLI passes ``settings.timezone``)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    community = Community(id=350322, name="鲤城街道幸福里小区", code="xfl", timezone=timezone)
    session.add(community)
    session.flush()
    rules = RuleSet(version=1, timezone=community.timezone)
    session.add(
        RuleSetRecord(
            community_id=community.id, version=1, rules_json=rules.to_json(), created_by=DEMO_ACTOR
        )
    )
    community.current_rule_version = 1
    buildings = _hierarchy(session, community)
    create_signing_key(
        session,
        community_id=community.id,
        keys_dir=keys_dir,
        actor=DEMO_ACTOR,
        now=now - timedelta(days=days + 1),
    )
    key = active_signing_key(session, community.id)
    on_progress("registering households and issuing passes")
    rows = _households(session, community, buildings, rng, households)
    issued_at = now - timedelta(days=days + 1)
    texts = {
        row.id: issue_pass(session, row, actor=DEMO_ACTOR, now=issued_at, key=key).text
        for row in rows
    }
    gate = Gate(community_id=community.id, name="南门", code="south")
    session.add(gate)
    session.flush()
    log_device = create_device(
        session, gate=gate, name="南门扫码机 (演示记录)", actor=DEMO_ACTOR, now=now
    ).device
    fresh = create_device(session, gate=gate, name="南门扫码机", actor=DEMO_ACTOR, now=now)
    logins = _users(session, community)
    # The shifts come before the simulated week, so its crossings record who was on duty.
    add_demo_roster(session, community.id, now=now)  # a week of shifts, one gap today
    on_progress("simulating a week of crossings")
    crossings = _simulate_week(
        session,
        community_id=community.id,
        device=log_device,
        rows=rows,
        texts=texts,
        rng=rng,
        now=now,
        days=days,
    )
    _quarantine_some(rows, rng, now)
    # Field practices: each feature adds its demo data below, one call per line
    # (zones, visitors, vehicles, errands, roster).
    add_demo_errands(session, community.id, now=now)  # needs the demo's volunteer logins
    add_demo_visitors(session, community.id, now=now)  # visitor passes, walk-ins, deliveries
    add_demo_vehicles(session, community.id, now=now)  # cars, their passes, an outside plate
    add_demo_zones(session, community.id, now=now)  # 7号楼 sealed, a compound controlled
    return DemoSummary(community.id, len(rows), crossings, fresh.enrolment_code, logins)


def _users(session: Session, community: Community) -> tuple[DemoLogin, ...]:
    logins: list[DemoLogin] = []
    for username, role, display_name in DEMO_USERS:
        password = demo_password()
        create_user(
            session,
            community_id=community.id,
            username=username,
            password=password,
            role=role,
            actor=DEMO_ACTOR,
            display_name=display_name,
        )
        logins.append(DemoLogin(username, role, password))
    return tuple(logins)


def _hierarchy(session: Session, community: Community) -> list[Building]:
    area = Area(community=community, name="第一片区", code="A1")
    grids = [
        Grid(area=area, name=f"第{n}网格", code=f"G{n}", grid_worker_name=f"网格员{n}")
        for n in (1, 2)
    ]
    compound = Compound(grid=grids[0], name="幸福里", code="XFL")
    second = Compound(grid=grids[1], name="幸福里二期", code="XFL2")
    buildings = [
        Building(compound=compound if n <= 3 else second, name=f"{n}号楼", code=str(n))
        for n in range(1, 7)
    ]
    session.add_all([area, *grids, compound, second, *buildings])
    session.flush()
    return buildings


def _households(
    session: Session,
    community: Community,
    buildings: list[Building],
    rng: random.Random,
    count: int,
) -> list[Household]:
    rows: list[Household] = []
    used_ids: set[int] = set()
    for index in range(count):
        building = buildings[index % len(buildings)]
        unit = 1 + (index // len(buildings)) % 2
        floor = 1 + (index // (len(buildings) * 2)) % 9
        room = f"{floor}0{1 + (index // (len(buildings) * 18)) % 4}"
        household_id = rng.randrange(10_000, 2**31)
        while household_id in used_ids:
            household_id = rng.randrange(10_000, 2**31)
        used_ids.add(household_id)
        row = Household(
            id=household_id,
            community_id=community.id,
            building_id=building.id,
            code=f"{building.code}-{unit}-{room}",
            unit=str(unit),
            room=room,
            contact_phone=_phone(rng),
        )
        for position in range(rng.choice((1, 2, 2, 3, 3, 4))):
            row.members.append(Member(name=_name(rng), phone=_phone(rng), is_head=position == 0))
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _simulate_week(
    session: Session,
    *,
    community_id: int,
    device: Device,
    rows: list[Household],
    texts: dict[int, str],
    rng: random.Random,
    now: datetime,
    days: int,
) -> int:
    context = load_context(session, community_id)
    zone = ZoneInfo(context.timezone)
    origin = Origin(gate_id=device.gate_id, device_id=device.id)
    events: list[tuple[datetime, Household, Direction, int]] = []
    for day in range(days, -1, -1):
        local_day = (now - timedelta(days=day)).astimezone(zone).date()
        for row in rows:
            if rng.random() > 0.45:
                continue
            leave = datetime.combine(
                local_day, time(rng.randint(7, 17), rng.randint(0, 59)), tzinfo=zone
            ).astimezone(UTC)
            back = leave + timedelta(minutes=rng.randint(30, 300))
            fever = 374 + rng.randint(0, 8) if rng.random() < 0.01 else rng.randint(358, 369)
            if leave >= now:  # today is simulated only up to now: no crossing in the future
                continue
            events.append((leave, row, Direction.OUT, fever))
            if back < now:
                events.append((back, row, Direction.IN, rng.randint(358, 369)))
    events.sort(key=lambda event: event[0])
    for at, row, direction, temperature in events:
        request = ScanRequest(
            client_id=str(uuid4()),  # random: ids never repeat across installs
            pass_text=texts[row.id],
            direction=direction,
            temperature=temperature,
            scanned_at=at,
            operator="志愿者",
            latency_ms=rng.randint(80, 400),
        )
        record_scan(session, context=context, origin=origin, request=request, now=at)
    return len(events)


def _quarantine_some(rows: list[Household], rng: random.Random, now: datetime) -> None:
    for row in rng.sample(rows, 6):
        row.status = HouseholdStatus.QUARANTINED
        row.quarantine_until = now + timedelta(days=rng.randint(2, 10))
        row.status_reason = "密接人员居家隔离"
    for row in rng.sample(rows, 3):
        if row.status is HouseholdStatus.NORMAL:
            row.status = HouseholdStatus.EXEMPT
            row.status_reason = "保供人员"


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def demo_password() -> str:
    """A random password for a demo login (printed once, never a default)."""
    return secrets.token_urlsafe(12)
