"""Issue #12's office-page fixes: the quarantine's last day, a demo with no future crossing,
the /log reason filter, device states, the dashboard's scrolling tables and self-refresh."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.community.models import Community
from gate.crossings.dashboard import OFFLINE_AFTER, device_state, overview
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.devices.models import Device
from gate.households.operations import quarantine_end
from gate.web.formatting import format_last_day
from passes import Direction

PASSWORD = "correct-horse-battery"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Office:
    compound: Compound

    def client(self, role: str = "office") -> FlaskClient:
        self.compound.app.config["WTF_CSRF_ENABLED"] = False
        client: FlaskClient = self.compound.app.test_client()
        answer = client.post("/login", data={"username": f"o-{role}", "password": PASSWORD})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        return client


@pytest.fixture
def office(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Office]:
    compound = build_compound(db_url, tmp_path, households=3)
    with transaction(compound.sessions) as session:
        for role in ("office", "auditor"):
            create_user(
                session,
                community_id=compound.community_id,
                username=f"o-{role}",
                password=PASSWORD,
                role=Role(role),
                actor="test",
            )
    try:
        yield Office(compound)
    finally:
        compound.dispose()


# --- 1. the quarantine's inclusive last day -------------------------------------------------------


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_a_quarantine_through_a_day_reads_as_that_day(zone: str) -> None:
    for last in (date(2026, 12, 10), date(2026, 3, 28), date(2026, 10, 24), date(2026, 3, 7)):
        end = quarantine_end(last, zone)
        assert format_last_day(end, ZoneInfo(zone)) == last.isoformat()
    assert format_last_day(None, SHANGHAI) == ""
    with pytest.raises(ValueError, match="naive"):
        format_last_day(datetime(2026, 12, 11), SHANGHAI)


def test_office_pages_show_the_last_day_entered(office: Office) -> None:
    client = office.client()
    code = office.compound.residents[0].code
    answer = client.post(
        f"/households/{code}/status",
        data={"action": "quarantine", "until": "2026-12-10", "reason": "密接者"},
    )
    assert answer.status_code == 302
    detail = client.get(f"/households/{code}").get_data(as_text=True)
    status = detail.split('id="status">')[1].split("</dd>")[0]
    assert "至 2026-12-10" in status
    assert "12-11" not in status
    assert "00:00" not in status
    listing = client.get("/households").get_data(as_text=True).split("<tbody>")[1]
    assert "至 2026-12-10" in listing
    assert "2026-12-11" not in listing


# --- 2. the demo has no crossing after now --------------------------------------------------------


@pytest.mark.parametrize("hour", [8, 0])
def test_a_demo_made_early_in_the_day_has_no_crossing_after_now(
    db_session: Session, tmp_path: Path, hour: int
) -> None:
    from gate.demo import build_demo

    now = datetime(2026, 11, 22, hour, 0, tzinfo=SHANGHAI).astimezone(UTC)
    summary = build_demo(db_session, keys_dir=tmp_path, now=now, households=40, days=2)
    assert summary.crossings > 0
    latest = db_session.scalar(select(func.max(Crossing.scanned_at)))
    assert latest is not None
    assert latest <= now
    # The simulated week (household passes); visitors and cars add crossings of their own.
    households_only = select(func.count()).select_from(Crossing).where(Crossing.subject.is_(None))
    assert summary.crossings == db_session.scalar(households_only)
    community = db_session.get(Community, summary.community_id)
    assert community is not None
    seen = overview(db_session, community, now)
    assert all(item.out_since <= now for item in seen.out_now)
    assert all(item.out_for >= timedelta(0) for item in seen.out_now)


# --- 3. /log with no reason chosen ----------------------------------------------------------------


def test_log_without_a_reason_shows_no_validation_error(office: Office) -> None:
    client = office.client("auditor")
    for query in ({}, {"code": ""}, {"code": "", "verdict": "", "direction": "", "gate": ""}):
        answer = client.get("/log", query_string=query)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert "field-error" not in html, query
        assert "不是有效的选择" not in html
        assert "Not a valid choice" not in html
    bad = client.get("/log", query_string={"code": "no_such_code"}).get_data(as_text=True)
    assert "field-error" in bad  # a real bad value is still reported
    chosen = client.get("/log", query_string={"code": "quota"}).get_data(as_text=True)
    assert "field-error" not in chosen


# --- 4. device states -----------------------------------------------------------------------------


def test_device_state_tells_never_connected_and_not_enrolled_apart() -> None:
    now = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    fresh = Device(name="a", token_hash=None, last_seen_at=None)
    assert device_state(fresh, now) == "not_enrolled"
    enrolled = Device(name="b", token_hash="h", last_seen_at=None)
    assert device_state(enrolled, now) == "never_connected"
    seen = Device(name="c", token_hash="h", last_seen_at=now - timedelta(minutes=1))
    assert device_state(seen, now) == "normal"
    seen.last_backlog = 3
    assert device_state(seen, now) == "behind"
    seen.last_seen_at = now - OFFLINE_AFTER
    assert device_state(seen, now) == "offline"
    seen.revoked_at = now
    assert device_state(seen, now) == "revoked"


def _states(html: str) -> list[str]:
    return re.findall(r'data-state="([a-z_]+)"', html)


def test_devices_and_dashboard_show_each_devices_state(office: Office) -> None:
    compound = office.compound
    client = office.client()
    assert _states(client.get("/devices").get_data(as_text=True)) == ["normal"]
    assert "正常" in client.get("/").get_data(as_text=True)
    created = client.post("/devices", data={"gate": str(compound.gate_id), "name": "北门扫码机"})
    assert created.status_code == 200
    with transaction(compound.sessions) as session:
        never = Device(gate_id=compound.gate_id, name="从未连接", token_hash="x" * 64)
        session.add(never)
    for page in ("/devices", "/"):
        html = client.get(page).get_data(as_text=True)
        assert sorted(_states(html)) == ["never_connected", "normal", "not_enrolled"], page
    compound.clock.advance(seconds=OFFLINE_AFTER.total_seconds() + 60)
    html = client.get("/").get_data(as_text=True)
    assert sorted(_states(html)) == ["never_connected", "not_enrolled", "offline"]
    assert "离线" in html


# --- 5. the dashboard: tables scroll in their cards, the page refreshes itself -------------------


def test_dashboard_tables_scroll_inside_their_cards_and_the_page_refreshes(
    office: Office,
) -> None:
    client = office.client("auditor")
    html = client.get("/").get_data(as_text=True)
    assert 'id="dashboard" data-refresh-seconds="60"' in html
    assert '<script src="/static/js/dashboard.js" defer></script>' in html
    assert re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html) is None  # CSP: no inline script
    tables = html.count("<table")
    assert tables >= 1
    assert len(re.findall(r'<div class="table-scroll">\s*<table', html)) == tables
    with client.get("/static/css/console.css") as answer:
        css = answer.get_data(as_text=True)
    rule = re.search(r"\.table-scroll \{([^}]*)\}", css)
    assert rule is not None
    assert "max-height" in rule.group(1)
    assert "overflow: auto" in rule.group(1)
    with client.get("/static/js/dashboard.js") as script:
        assert script.status_code == 200
        body = script.get_data(as_text=True)
    assert "scrollTop" in body
    assert "dataset.refreshSeconds" in body


def test_the_out_now_list_is_inside_its_scroll_box(office: Office) -> None:
    compound = office.compound
    api = compound.client()
    for resident in compound.residents:
        assert compound.scan(api, resident.pass_text, Direction.OUT).status_code < 300
    html = office.client("auditor").get("/").get_data(as_text=True)
    card = html.split('id="out-now">')[1].split("</section>")[0]
    box = card.split('<div class="table-scroll">')[1]
    for resident in compound.residents:
        assert resident.code in box
