"""A compound set up through the real operations, served by a real app, for scan API tests.

:func:`build_compound` migrates nothing itself: it takes the URL of a migrated database (the
``committed_engine`` fixture's), creates the app with ``Settings.from_env``, an injectable
clock, a community with its rules, a signing key written to the instance's keys directory,
households with members and issued passes, a gate and a scanner device enrolled over HTTP
with its one-time code. Tests then talk to ``/api/v1`` with the Flask test client.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from factories import make_building
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.app import create_app
from gate.community.models import Community
from gate.community.models import RuleSet as RuleSetRecord
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.devices.models import Gate
from gate.devices.operations import create_device
from gate.households.models import Household, Member
from gate.issuing.operations import issue_pass
from gate.services import Services
from gate.settings import Settings
from gate.signing.operations import active_signing_key, create_signing_key
from passes import Direction, RuleSet, format_utc

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 22, 9, 0, tzinfo=ZONE).astimezone(UTC)
"""The fake clock's first reading: Sunday 22 November 2026, 09:00 in Shanghai."""
ACTOR = "test"
NORMAL = 365
"""A normal temperature, in tenths of a degree."""


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


class FakeClock:
    """The server's clock in tests: reads a settable time (thread-safe)."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


@dataclass(frozen=True)
class Resident:
    """One household of the compound and what identifies it (personal data included)."""

    household_id: int
    code: str
    unit: str
    room: str
    phone: str
    member_names: tuple[str, ...]
    member_phones: tuple[str, ...]
    id_numbers: tuple[str, ...]
    pass_text: str

    def personal_strings(self) -> list[str]:
        """Everything that must never leave the office: names, phones, ID numbers, address."""
        return [
            self.code,
            self.unit,
            self.room,
            self.phone,
            *self.member_names,
            *self.member_phones,
            *self.id_numbers,
        ]


@dataclass
class Compound:
    """A running app with one community, its households and one enrolled scanner."""

    app: Flask
    settings: Settings
    clock: FakeClock
    community_id: int
    gate_id: int
    device_id: int
    token: str
    residents: list[Resident]
    rules: RuleSet
    extra_tokens: list[str] = field(default_factory=list)

    @property
    def services(self) -> Services:
        return self.app.extensions["checkpoint"]  # type: ignore[no-any-return]

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.services.sessions

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def scan(
        self,
        client: FlaskClient,
        pass_text: str,
        direction: Direction | str,
        temperature: object = NORMAL,
        *,
        token: str | None = None,
        **fields: Any,
    ) -> TestResponse:
        """POST one online scan (a fresh UUID and the clock's time unless given)."""
        body = scan_body(pass_text, direction, temperature, scanned_at=self.clock(), **fields)
        return client.post("/api/v1/scans", json=body, headers=self.headers(token))

    def upload(
        self, client: FlaskClient, items: Sequence[object], *, token: str | None = None
    ) -> TestResponse:
        """POST one offline batch."""
        return client.post(
            "/api/v1/crossings/batch", json={"crossings": items}, headers=self.headers(token)
        )

    def crossing_count(self) -> int:
        with transaction(self.sessions, read_only=True) as session:
            return session.scalar(select(func.count()).select_from(Crossing)) or 0

    def dispose(self) -> None:
        self.engine.dispose()


def scan_body(
    pass_text: str,
    direction: Direction | str,
    temperature: object = NORMAL,
    *,
    scanned_at: datetime,
    client_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/scans`` (and, with a ``verdict``, of a batch item)."""
    return {
        "id": client_id or str(uuid.uuid4()),
        "pass": pass_text,
        "direction": str(direction),
        "temperature": temperature,
        "scanned_at": format_utc(scanned_at),
        "operator": "志愿者",
        **fields,
    }


def app_settings(database_url: str, instance_dir: Path) -> Settings:
    """Test settings on ``database_url``; keys and secrets live under ``instance_dir``."""
    return Settings.from_env(
        {
            "CHECKPOINT_DATABASE_URL": database_url,
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(instance_dir),
        }
    )


def build_compound(
    database_url: str,
    instance_dir: Path,
    *,
    households: int = 8,
    rules: RuleSet | None = None,
    clock: FakeClock | None = None,
    extra_devices: int = 0,
) -> Compound:
    """Set up a compound in the (migrated, committed) database at ``database_url``."""
    clock = clock or FakeClock()
    settings = app_settings(database_url, instance_dir)
    app = create_app(settings=settings)
    services: Services = app.extensions["checkpoint"]
    services.clock = clock
    now = clock()
    community_id = secrets.randbelow(2**31 - 1) + 1
    rules = rules or RuleSet(version=1, timezone="Asia/Shanghai")
    with transaction(services.sessions) as session:
        community = Community(
            id=community_id,
            name="测试街道幸福里小区",
            code=f"c{community_id}",
            timezone="Asia/Shanghai",
            current_rule_version=rules.version,
        )
        session.add(community)
        session.add(
            RuleSetRecord(
                community_id=community_id,
                version=rules.version,
                rules_json=rules.to_json(),
                created_by=ACTOR,
            )
        )
        session.flush()
        create_signing_key(
            session,
            community_id=community_id,
            keys_dir=settings.keys_dir,
            actor=ACTOR,
            now=now - timedelta(days=1),
        )
        residents = add_residents(session, community, households, now=now)
        gate = Gate(community_id=community_id, name="南门", code="south")
        session.add(gate)
        session.flush()
        codes = [
            create_device(session, gate=gate, name=f"扫码机{n}", actor=ACTOR, now=now)
            for n in range(1 + extra_devices)
        ]
        gate_id = gate.id
    client = app.test_client()
    tokens = []
    for new in codes:
        answer = client.post("/api/v1/devices/enroll", json={"code": new.enrolment_code})
        assert answer.status_code == 201, answer.get_json()
        tokens.append(answer.get_json()["token"])
    return Compound(
        app=app,
        settings=settings,
        clock=clock,
        community_id=community_id,
        gate_id=gate_id,
        device_id=codes[0].device.id,
        token=tokens[0],
        residents=residents,
        rules=rules,
        extra_tokens=tokens[1:],
    )


def add_residents(
    session: Session, community: Community, count: int, *, now: datetime
) -> list[Resident]:
    """``count`` households with two members each and an issued pass (issued an hour ago)."""
    building = make_building(session, community)
    key = active_signing_key(session, community.id)
    taken = set(session.scalars(select(Household.id)))
    residents = []
    for _ in range(count):
        household_id = secrets.randbelow(2**31 - 10_000) + 10_000
        while household_id in taken:
            household_id = secrets.randbelow(2**31 - 10_000) + 10_000
        taken.add(household_id)
        serial = secrets.token_hex(3)
        row = Household(
            id=household_id,
            community_id=community.id,
            building=building,
            code=f"幸{serial}号",
            unit=f"{serial}单元",
            room=f"{serial}室",
            contact_phone=f"139{secrets.randbelow(10**8):08d}",
        )
        names = (f"张{serial}", f"李{serial}")
        phones = tuple(f"138{secrets.randbelow(10**8):08d}" for _ in names)
        id_numbers = tuple(f"350102{secrets.randbelow(10**12):012d}" for _ in names)
        for index, (name, phone, id_number) in enumerate(
            zip(names, phones, id_numbers, strict=True)
        ):
            row.members.append(
                Member(name=name, phone=phone, id_number=id_number, is_head=index == 0)
            )
        session.add(row)
        session.flush()
        text = issue_pass(session, row, actor=ACTOR, now=now - timedelta(hours=1), key=key).text
        residents.append(
            Resident(
                household_id=household_id,
                code=row.code,
                unit=row.unit or "",
                room=row.room or "",
                phone=row.contact_phone or "",
                member_names=names,
                member_phones=phones,
                id_numbers=id_numbers,
                pass_text=text,
            )
        )
    return residents


@contextmanager
def statement_log(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement ``engine`` runs inside the block (``before_cursor_execute``)."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def verdict_of(response: TestResponse) -> dict[str, Any]:
    """The verdict of a scan answer, failing loudly on anything but a 200."""
    body = response.get_json()
    assert response.status_code == 200, body
    return body["verdict"]  # type: ignore[no-any-return]


def personal_needles(residents: list[Resident]) -> list[str]:
    """Every personal string of ``residents`` (for "appears nowhere" checks)."""
    return [text for resident in residents for text in resident.personal_strings()]


def json_text(value: object) -> str:
    """``value`` as JSON with non-ASCII kept, so Chinese text can be searched for."""
    return json.dumps(value, ensure_ascii=False)


def assert_chain_intact(compound: Compound) -> int:
    """Verify the gate's hash chain end to end; return its length."""
    from gate.crossings.chain import ChainHead, verify_chain

    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(
            select(Crossing).where(Crossing.gate_id == compound.gate_id).order_by(Crossing.gate_seq)
        )
        head = verify_chain(compound.gate_id, rows)
    assert isinstance(head, ChainHead), head
    return head.gate_seq


def add_console_users(
    compound: Compound, password: str, users: Sequence[tuple[str, Role, str]]
) -> None:
    """Office accounts ``(username, role, display name)`` in the compound's community, all
    with ``password``; CSRF off, so console tests post forms directly."""
    with transaction(compound.sessions) as session:
        for username, role, name in users:
            create_user(
                session,
                community_id=compound.community_id,
                username=username,
                password=password,
                role=role,
                actor="test",
                display_name=name,
            )
    compound.app.config["WTF_CSRF_ENABLED"] = False


def console_client(compound: Compound, username: str, password: str) -> FlaskClient:
    """A test client logged in as ``username`` through the login form."""
    client = compound.app.test_client()
    answer = client.post("/login", data={"username": username, "password": password})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client
