"""A phone's view of ``checkpoint serve --tls`` (issue #14), in Chromium: the server on a
non-loopback address (an alias the test adds to ``lo`` and removes), the local authority's key
trusted by the browser (``--ignore-certificate-errors-spki-list``, the supported way to trust
one key in headless Chromium). /gate is then a secure context with ``getUserMedia``; without
the trust the browser refuses the certificate; the CA page opens over plain HTTP in Chinese.
Screenshots of the CA page and the gate page at 390x844 land in test-artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_helpers import CHROMIUM_ARGS, SCREENSHOTS, log_in, require_browser, seed_site
from tls_server import TlsServer, address_alias, tls_server

from gate.accounts.models import Role

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 390, "height": 844}


def _browser(playwright: Any, chromium: str, server: TlsServer | None) -> Any:
    args = list(CHROMIUM_ARGS)
    if server is not None:
        args.append(f"--ignore-certificate-errors-spki-list={server.spki_hash}")
    return playwright.chromium.launch(executable_path=chromium, args=args)


def test_gate_page_over_tls_on_a_lan_address_is_a_secure_context_with_a_camera_api(
    tmp_path: Path,
) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path)
    volunteer = site.passwords[Role.VOLUNTEER]
    site.app.extensions["checkpoint"].engine.dispose()
    database = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with (
        address_alias() as address,
        tls_server(tmp_path, host=address, database_url=database) as server,
        sync_api.sync_playwright() as playwright,
    ):
        assert server.url.startswith(f"https://{address}:")
        untrusting = _browser(playwright, chromium, None)
        try:
            page = untrusting.new_page()
            with pytest.raises(sync_api.Error, match="ERR_CERT"):
                page.goto(f"{server.url}/login")
        finally:
            untrusting.close()

        browser = _browser(playwright, chromium, server)
        try:
            context = browser.new_context(viewport=VIEWPORT, is_mobile=True, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{server.plain_url}/ca")
            assert page.url == f"{server.plain_url}/ca"
            assert "加密与凭据" in page.inner_text("#android")
            page.screenshot(path=str(SCREENSHOTS / "ca-page-390x844.png"), full_page=True)

            log_in(page, server.url, "volunteer", volunteer)
            page.goto(f"{server.url}/gate")
            assert page.url.startswith(f"{server.url}/gate")
            assert page.evaluate("window.isSecureContext") is True
            assert (
                page.evaluate(
                    "typeof (navigator.mediaDevices && navigator.mediaDevices.getUserMedia)"
                )
                == "function"
            )
            assert page.evaluate("location.protocol") == "https:"
            page.screenshot(path=str(SCREENSHOTS / "gate-over-tls-390x844.png"))
            # Plain http to the same port is sent to https, where the trusted certificate holds.
            page.goto(f"{server.plain_url}/gate")
            assert page.url.startswith(f"{server.url}/gate")
            context.close()
        finally:
            browser.close()
