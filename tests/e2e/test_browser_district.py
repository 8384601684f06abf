"""The first run's setup pages and the district overview in a real browser (Debian's
Chromium driven by Playwright, zh-CN).

From an empty database: the printed setup link -> the administrator and the community ->
the gate -> a rules template -> the next steps; then a district auditor of two communities
sees both on /district and switches between them in the header. Screenshots land in
``test-artifacts/screenshots/setup-*.png`` and ``district-overview.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, log_in, require_browser
from sqlalchemy import select

from gate.accounts.firstrun import setup_link_if_needed
from gate.accounts.memberships import grant
from gate.accounts.models import Role, User
from gate.accounts.operations import create_user
from gate.app import create_app
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.community.setup import create_community
from gate.db import make_engine, transaction
from gate.devices.models import Device, Gate
from gate.households.decision_state import store_state
from gate.households.models import Household
from gate.migrations import upgrade
from gate.settings import Settings
from passes import HouseholdState

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000


def _app(directory: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{directory / 'first-run.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": url,
        }
    )
    return create_app(settings=settings)


def test_the_setup_link_walks_an_office_from_nothing_to_the_next_steps(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    app = _app(tmp_path)
    sessions = app.extensions["checkpoint"].sessions
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        with transaction(sessions) as session:
            link = setup_link_if_needed(session, base, now=datetime.now(UTC))
        assert link is not None
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="zh-CN")
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(link)
            assert page.locator("h1").inner_text() == "首次设置"
            page.fill("input[name=username]", "admin")
            page.fill("input[name=display_name]", "王主任")
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=password_again]", PASSWORD)
            page.fill("input[name=community_name]", "幸福里社区")
            page.fill("input[name=address]", "鲤城区幸福路 1 号")
            page.screenshot(path=str(SCREENSHOTS / "setup-1-admin-community.png"), full_page=True)
            page.click(".setup-card button.button-primary")
            page.wait_for_url(f"{base}/setup/gate")
            page.fill("input[name=name]", "南门")
            page.screenshot(path=str(SCREENSHOTS / "setup-2-gate.png"), full_page=True)
            page.click(".setup-card button.button-primary")
            page.wait_for_url(f"{base}/setup/rules")
            page.check("input[value=two-days]")
            page.screenshot(path=str(SCREENSHOTS / "setup-3-rules.png"), full_page=True)
            page.click(".setup-card button.button-primary")
            page.wait_for_url(f"{base}/setup/done")
            steps = page.locator(".setup-next li")
            assert steps.count() == 5
            assert "导入住户" in steps.nth(0).inner_text()
            page.screenshot(path=str(SCREENSHOTS / "setup-4-next-steps.png"), full_page=True)
            # the link is gone for good
            answer = page.goto(link)
            assert answer is not None
            assert answer.status == 410
            assert "已失效" in page.content()
        finally:
            browser.close()
    with transaction(sessions, read_only=True) as session:
        assert session.scalar(select(User.username)) == "admin"
        assert session.scalar(select(Gate.name)) == "南门"


def _district(app) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with transaction(app.extensions["checkpoint"].sessions) as session:
        first = create_community(
            session, name="幸福里社区", timezone="Asia/Shanghai", code="xfl", actor="t", now=now
        )
        second = create_community(
            session, name="光明社区", timezone="Asia/Shanghai", code="gm", actor="t", now=now
        )
        auditor = create_user(
            session,
            community_id=first.id,
            username="jd.audit",
            password=PASSWORD,
            role=Role.DISTRICT_AUDITOR,
            actor="t",
            display_name="街道检查组",
        )
        grant(session, auditor, second, Role.DISTRICT_AUDITOR, actor="t")
        gate = Gate(community_id=first.id, name="南门", code="south")
        session.add(gate)
        session.flush()
        session.add(
            Device(gate_id=gate.id, name="南门扫码机", token_hash="x" * 64, last_seen_at=now)
        )
        session.add(
            Device(
                gate_id=gate.id,
                name="北门扫码机",
                token_hash="y" * 64,
                last_seen_at=now - timedelta(hours=3),
            )
        )
        area = Area(community_id=first.id, name="一片区", code="A1")
        grid = Grid(area=area, name="一网格", code="G1", grid_worker_name="王网格")
        compound = Compound(grid=grid, name="幸福里", code="P1")
        building = Building(compound=compound, name="1号楼", code="1")
        session.add(building)
        session.flush()
        for n in range(3):
            household = Household(
                community_id=first.id, building=building, code=f"1-1-{n}", unit="1", room=str(n)
            )
            session.add(household)
            session.flush()
            store_state(household, HouseholdState(household.id, out_since=(now,)))


def test_the_district_overview_shows_both_communities_and_opens_each(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    app = _app(tmp_path)
    _district(app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, base, "jd.audit", PASSWORD)
            assert page.url == f"{base}/district"
            rows = page.locator("#district tbody tr")
            assert rows.count() == 2
            first = page.locator("tr[data-community=xfl]")
            assert first.locator("[data-figure=out_now]").inner_text() == "3"
            assert first.locator("[data-figure=devices_offline]").inner_text() == "1 / 2"
            page.screenshot(path=str(SCREENSHOTS / "district-overview.png"), full_page=True)
            page.locator("tr[data-community=gm] button", has_text="进入").click()
            page.wait_for_url(f"{base}/")
            selected = page.locator("#community-switch option:checked").inner_text()
            assert selected == "光明社区"
            page.screenshot(path=str(SCREENSHOTS / "district-switched.png"))
        finally:
            browser.close()
    with transaction(app.extensions["checkpoint"].sessions, read_only=True) as session:
        assert len(list(session.scalars(select(Community.id)))) == 2
