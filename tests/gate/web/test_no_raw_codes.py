"""Every page, as every role, in Chinese: no raw machine code and no English word left.

Clerks and auditors read Chinese. A reason code (``quota``), an audit action
(``crossings.export_unmasked``) or a gate's code shown as-is is as unreadable to them as an
English word. The site here holds every reason code in its log and every audit action in
its trail, so each label has to be there for the pages to pass. Pages are found from the
app's own routes (every GET route, with the sample household, crossing or device filled in),
so a new page is checked without anyone adding it here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_i18n import visible_text
from web_helpers import DemoSite, demo_site, log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.operations import record_event
from gate.crossings.models import Crossing
from gate.devices.models import Device
from gate.web import labels
from passes import Code

ROLES = tuple(Role)
DISTRICT_PASSWORD = "district-lantern-orbit"
SKIPPED_ENDPOINTS = frozenset({"static"})
"""Not pages."""
SKIPPED_PATHS = re.compile(
    r"^/(api/|static/|lang/|logout)|\.(png|pdf|csv|xlsx|json|js|webmanifest|crt|mobileconfig)$"
    r"|/(export|card|download|template|bad-rows)(/|$|\?)"
)
"""Files, the API, and forms' targets: not pages a person reads."""

ALLOWED_LATIN = frozenset(
    {
        "CSV", "Excel", "PDF", "PNG", "JSON", "QR", "ID", "UTC", "WiFi", "Wi", "Fi", "HTTPS",
        "Android", "iOS", "iPhone", "WeChat", "SHA", "CA", "xlsx", "csv", "txt", "English",
        "Checkpoint", "Asia", "Shanghai", "AM", "PM", "C", "IP", "URL", "PWA", "USB",
        "admin", "office", "auditor", "supervisor", "volunteer", "demo",  # usernames
        "district_office", "district_auditor",  # usernames (each role's login is its name)
        "checkpoint", "serve", "tls",  # a command to type, quoted as such
    }
)  # fmt: skip
"""Latin words that are formats, units, product or platform names, or login names."""

RAW_CODES = frozenset(code.value for code in Code) | frozenset(labels.EXTRA_CODE_LABELS)
RAW_ACTIONS = frozenset(labels.ACTION_LABELS)
WORD = re.compile(r"(?<![A-Za-z0-9_./-])[A-Za-z][A-Za-z_.]*[A-Za-z](?![A-Za-z0-9_])")
MANUAL_CODE = re.compile(r"\b[A-Z0-9]{4,5}-[A-Z0-9]{4,5}\b")
SCRIPT_PLACEHOLDER = re.compile(r"\{\w+\}")
"""The page script's placeholders in its texts (``{time}``), filled in before they show."""


@dataclass(frozen=True)
class Site:
    app: Flask
    passwords: dict[Role, str]
    values: dict[str, str]
    """Route argument name -> a sample value (household code, crossing id, ...)."""

    def browser(self, role: Role | None) -> FlaskClient:
        client = self.app.test_client()
        client.get("/lang/zh_CN").close()
        if role is not None:
            assert log_in(client, role.value, self.passwords[role]).status_code == 302
        return client


def _every_code_and_action(session: Session, demo: DemoSite) -> dict[str, str]:
    """A refused crossing for every reason code and an event for every audit action; the
    device and gate they name, as URL values."""
    household, now = demo.household, datetime.now(UTC)
    device = session.scalars(select(Device).order_by(Device.id).limit(1)).one()
    last = session.scalars(
        select(Crossing)
        .where(Crossing.gate_id == device.gate_id)
        .order_by(Crossing.gate_seq.desc())
    ).first()
    seq, previous = (last.gate_seq, last.row_hash) if last else (0, "0" * 64)
    for index, code in enumerate(sorted(RAW_CODES)):
        row_hash = uuid.uuid4().hex * 2
        session.add(
            Crossing(
                client_id=str(uuid.uuid4()),
                community_id=household.community_id,
                gate_id=device.gate_id,
                device_id=device.id,
                household_id=household.id,
                direction="out",
                scanned_at=now - timedelta(minutes=index + 1),
                allowed=False,
                code=code,
                codes=code,
                rule_version=1,
                temperature_tenths=365,
                gate_seq=seq + index + 1,
                prev_hash=previous,
                row_hash=row_hash,
            )
        )
        previous = row_hash
    for action in sorted(RAW_ACTIONS):
        record_event(
            session,
            actor="admin",
            action=action,
            community_id=household.community_id,
            details={"code": "quota", "count": 1},
        )
    for role in (Role.DISTRICT_OFFICE, Role.DISTRICT_AUDITOR):
        create_user(
            session,
            community_id=household.community_id,
            username=role.value,
            password=DISTRICT_PASSWORD,
            role=role,
            actor="admin",
        )
    return {"device_id": str(device.id), "gate_id": str(device.gate_id)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A demo compound whose log holds every reason code and whose trail every action."""
    found: dict[str, str] = {}

    def extra(session: Session, demo: DemoSite) -> None:
        found.update(_every_code_and_action(session, demo))

    demo = demo_site(tmp_path_factory.mktemp("raw-codes"), extra=extra)
    household = demo.household
    values = {
        **found,
        "code": household.code,
        "household_code": household.code,
        "token": demo.resident_token,
        "pass_id": str(demo.issued.id),
        "crossing_id": "1",
        "user_id": "1",
        "community_id": str(household.community_id),
    }
    try:
        passwords = {**demo.passwords}
        passwords.update(
            dict.fromkeys((Role.DISTRICT_OFFICE, Role.DISTRICT_AUDITOR), DISTRICT_PASSWORD)
        )
        yield Site(demo.app, passwords, values)
    finally:
        demo.app.extensions["checkpoint"].engine.dispose()


def _page_paths(site: Site) -> list[str]:
    paths = []
    for rule in site.app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS or "GET" not in (rule.methods or ()):
            continue
        if any(argument not in site.values for argument in rule.arguments):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{argument}>", site.values[argument], path)
        if not SKIPPED_PATHS.search(path):
            paths.append(path)
    return sorted(set(paths))


def _offences(html: str) -> list[str]:
    text = SCRIPT_PLACEHOLDER.sub("", MANUAL_CODE.sub("", visible_text(html)))
    found = []
    for word in WORD.findall(text):
        if word in RAW_ACTIONS or word in RAW_CODES:
            found.append(f"code {word}")
        elif word not in ALLOWED_LATIN and not any(part in ALLOWED_LATIN for part in [word]):
            found.append(word)
    return sorted(set(found))


def test_the_pages_are_found_from_the_routes(site: Site) -> None:
    paths = _page_paths(site)
    for expected in ("/", "/log", "/audit", "/households", "/rules", "/gate", "/login"):
        assert expected in paths, paths


@pytest.mark.parametrize("role", [*ROLES, None], ids=lambda r: r.value if r else "anonymous")
def test_no_page_shows_a_raw_code_or_an_english_word(site: Site, role: Role | None) -> None:
    browser = site.browser(role)
    leftovers: dict[str, list[str]] = {}
    for path in _page_paths(site):
        response = browser.get(path)
        if response.status_code in (301, 302, 303, 405):
            continue
        if not response.mimetype.startswith("text/html"):
            continue
        offences = _offences(response.get_data(as_text=True))
        if offences:
            leftovers[f"{path} ({response.status_code})"] = offences
    assert leftovers == {}, "\n".join(f"{k}: {v}" for k, v in leftovers.items())
