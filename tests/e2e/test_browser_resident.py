"""The resident's phone page with rotating codes, in Chromium at 390x844 (issue #13).

The page shows a signed screen code; taken offline and reloaded it opens from its service
worker and keeps cycling the codes it holds (a new one each minute, each decodes to a code
the gate accepts at that moment); once they run out it says 请连接网络刷新 and shows no code;
a revoked link gets no new code and the page drops the code at once. The browser's clock is
Playwright's fake clock (``page.clock``), so minutes pass in milliseconds. Screenshots land
in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from browser_helpers import SCREENSHOTS, Site, launch, live_server, require_browser, seed_site
from PIL import Image
from sqlalchemy import select

from gate.community.models import Community
from gate.db import transaction
from gate.households.models import Household
from gate.issuing.operations import current_pass
from gate.issuing.resident_links import issue_resident_link, revoke_resident_link
from gate.issuing.screen_codes import check_presented
from passes import VerifiedPass

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return seed_site(tmp_path)


def _link(site: Site) -> tuple[str, int]:
    with transaction(site.sessions) as session:
        community = session.scalars(select(Community)).one()
        community.rotating_codes_enabled = True
        household = session.scalars(select(Household).order_by(Household.id)).first()
        assert household is not None
        record = current_pass(session, household)
        assert record is not None
        token = issue_resident_link(session, record, "office", datetime.now(UTC))
        return token, household.id


def _shown_code(page: Any) -> str:
    source = page.get_attribute("#pass-qr", "src")
    assert source is not None
    assert source.startswith("data:image/png;base64,")
    return _decoded(source.split(",", 1)[1])


def _decoded(png_base64: str) -> str:
    image = Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("L")
    [found] = zxingcpp.read_barcodes(image)
    return str(found.text)


def _accepted(site: Site, text: str, at: datetime, household_id: int) -> bool:
    with transaction(site.sessions, read_only=True) as session:
        community = session.scalars(select(Community)).one()
        context = site.app.extensions["checkpoint"].contexts.get(session, community.id)
        check = check_presented(session, context=context, text=text, now=at)
    return isinstance(check, VerifiedPass) and check.fields.household_id == household_id


def _until(page: Any, expression: str, timeout: float = TIMEOUT_MS / 1000) -> None:
    """Poll ``expression`` until truthy (``wait_for_function`` evaluates strings, which the
    page's CSP forbids; ``evaluate`` goes through the debugger protocol)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.05)


@pytest.fixture
def browser_page(site: Site) -> Iterator[tuple[Any, Any, str, Any]]:
    sync_api, chromium = require_browser()
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        context = browser.new_context(
            viewport=VIEWPORT, device_scale_factor=2, is_mobile=True, locale="zh-CN"
        )
        try:
            yield context, context.new_page(), base, sync_api
        finally:
            context.close()
            browser.close()


def test_the_phone_page_cycles_held_codes_offline_and_stops_when_the_link_is_revoked(
    site: Site, browser_page: tuple[Any, Any, str, Any]
) -> None:
    context, page, base, sync_api = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    token, household_id = _link(site)
    started = datetime.now(UTC)
    page.clock.install(time=started)
    page.goto(f"{base}/p/{token}")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the service worker, which keeps the page
    _until(page, "navigator.serviceWorker.controller !== null")
    _until(page, "localStorage.length > 0 && !document.getElementById('pass-qr').hidden")
    first = _shown_code(page)
    assert first.startswith("CS1:")
    assert _accepted(site, first, started, household_id)
    page.screenshot(path=str(SCREENSHOTS / "resident-390x844-rotating.png"))

    context.set_offline(True)
    page.reload()  # offline: from the service worker's cache, codes from localStorage
    page.wait_for_selector("#pass-qr:not([hidden])", timeout=TIMEOUT_MS)
    assert page.evaluate("navigator.onLine") is False
    assert page.is_visible("#offline-note")
    seen = [_shown_code(page)]
    for minute in range(1, 5):
        page.clock.run_for(60_000)
        _until(page, "!document.getElementById('pass-qr').hidden")
        shown = _shown_code(page)
        assert shown not in seen, f"minute {minute}: the page did not move to its next code"
        assert _accepted(site, shown, started + timedelta(minutes=minute, seconds=30), household_id)
        seen.append(shown)
    page.screenshot(path=str(SCREENSHOTS / "resident-390x844-offline-held-code.png"))
    # Whatever the phone keeps (the service worker's cache, the held codes) is screen codes
    # only: never the static pass.
    kept = page.evaluate(
        "caches.open('checkpoint-resident-v1').then(cache => cache.keys().then(keys =>"
        " Promise.all(keys.map(key => cache.match(key).then(hit => hit.text())))))"
        ".then(texts => texts.concat(Object.values(localStorage)).join('\\n'))"
    )
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", kept)
    assert len(images) >= 2  # the cached page's code and the held ones
    assert all(_decoded(image).startswith("CS1:") for image in images)
    page.clock.run_for(90_000)  # past the five minutes held
    page.wait_for_selector("#codes-ended:not([hidden])", timeout=TIMEOUT_MS)
    assert page.is_hidden("#pass-qr")
    assert "请连接网络刷新" in page.inner_text("#codes-ended")
    page.screenshot(path=str(SCREENSHOTS / "resident-390x844-codes-ran-out.png"))

    context.set_offline(False)
    with transaction(site.sessions) as session:
        household = session.get_one(Household, household_id)
        record = current_pass(session, household)
        assert record is not None
        revoke_resident_link(session, record, "office", datetime.now(UTC))
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#pass-ended:not([hidden])", timeout=TIMEOUT_MS)
    assert page.is_hidden("#pass-qr")
    assert page.evaluate("localStorage.length") == 0
    assert page.request.get(f"{base}/p/{token}/code").status == 404
    page.screenshot(path=str(SCREENSHOTS / "resident-390x844-link-revoked.png"))
    # Reopened, the withdrawn link answers 404, and the service worker forgets its copy.
    assert page.reload().status == 404
    assert "链接无效" in page.content()
    context.set_offline(True)
    with pytest.raises(sync_api.Error):
        page.reload()
