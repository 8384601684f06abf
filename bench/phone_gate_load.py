"""Benchmark: the phone gate's first load on a throttled connection, in headless Chromium.

A demo compound behind a real ``checkpoint serve`` on 127.0.0.1; a fresh browser profile
(nothing cached, no service worker) logs in as a volunteer, then Chromium's network
throttling is switched on (DevTools' "Fast 3G" by default: 1.6 Mbit/s down, 0.75 Mbit/s up,
562.5 ms round trip; ``--profile slow-3g``: 0.4 / 0.4 Mbit/s, 2 s) and /gate is opened with
a fake camera. It prints:

- bytes over the network for the page and everything it loads (as Chromium's network layer
  counts them, headers included; DevTools protocol events, the throttled page target) and
  the size of the files the service worker keeps for offline use;
- time to usable: until the camera runs and the QR decoder (zxing-cpp WebAssembly) is ready;
- time to offline-ready: until the service worker has kept every file and the bundle and the
  JavaScript decider are loaded (from then on the page opens and decides without a network).

    .venv/bin/python bench/phone_gate_load.py [--profile fast-3g|slow-3g|none] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import GateServer, build_compound, machine, machine_line

CHROMIUM = "/usr/bin/chromium"
PROFILES: dict[str, dict[str, float] | None] = {
    # DevTools' presets: throughput in bytes per second, latency in milliseconds.
    "fast-3g": {"latency": 562.5, "download": 1.6e6 / 8 * 0.9, "upload": 0.75e6 / 8 * 0.9},
    "slow-3g": {"latency": 2000.0, "download": 0.4e6 / 8 * 0.9, "upload": 0.4e6 / 8 * 0.9},
    "none": None,
}

KEPT = """async () => {
  let kept = 0;
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      kept += (await (await cache.match(request)).arrayBuffer()).byteLength;
    }
  }
  return kept;
}"""


def volunteer(database_url: str) -> tuple[str, str]:
    """A fresh volunteer login of the demo community."""
    from sqlalchemy import select

    from gate.accounts.models import Role
    from gate.accounts.operations import create_user
    from gate.community.models import Community
    from gate.db import make_engine, session_factory, transaction

    engine = make_engine(database_url)
    username, password = f"bench-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    try:
        with transaction(session_factory(engine)) as session:
            community = session.scalars(select(Community)).first()
            assert community is not None
            create_user(
                session,
                community_id=community.id,
                username=username,
                password=password,
                role=Role.VOLUNTEER,
                actor="bench",
            )
    finally:
        engine.dispose()
    return username, password


def measure(base: str, username: str, password: str, profile: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        try:
            context = browser.new_context(viewport={"width": 360, "height": 640})
            context.set_default_timeout(600_000)
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.press("input[name=password]", "Enter")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto("about:blank")
            cdp = context.new_cdp_session(page)
            received: dict[str, float] = {}
            urls: dict[str, str] = {}
            cdp.on(
                "Network.requestWillBeSent",
                lambda event: urls.__setitem__(event["requestId"], event["request"]["url"]),
            )
            cdp.on(
                "Network.loadingFinished",
                lambda event: received.__setitem__(
                    event["requestId"], float(event["encodedDataLength"])
                ),
            )
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
            conditions = PROFILES[profile]
            if conditions is not None:
                cdp.send(
                    "Network.emulateNetworkConditions",
                    {
                        "offline": False,
                        "latency": conditions["latency"],
                        "downloadThroughput": conditions["download"],
                        "uploadThroughput": conditions["upload"],
                    },
                )
            start = time.perf_counter()
            page.goto(f"{base}/gate", wait_until="commit")
            page.wait_for_selector("#gate[data-decoder]", state="attached")
            usable = time.perf_counter() - start
            page.wait_for_selector("#gate[data-kept='1'][data-offline-ready='1']", state="attached")
            offline_ready = time.perf_counter() - start
            decoder = page.get_attribute("#gate", "data-decoder")
            sizes = {
                "kept": page.evaluate(KEPT),
                "transferred": sum(received.values()),
                "requests": len(received),
            }
            largest = sorted(
                ((size, urls.get(key, "?")) for key, size in received.items()), reverse=True
            )[:3]
        finally:
            browser.close()
    return {
        "profile": profile,
        "conditions": PROFILES[profile],
        "decoder": decoder,
        "usable_s": round(usable, 2),
        "offline_ready_s": round(offline_ready, 2),
        "transferred_bytes": sizes["transferred"],
        "requests": sizes["requests"],
        "kept_bytes": sizes["kept"],
        "largest": [[int(size), url.split("/", 3)[-1]] for size, url in largest],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="fast-3g")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        compound = build_compound(root, free_households=1, now=datetime.now(UTC))
        username, password = volunteer(compound.database_url)
        with GateServer(compound.env, root / "serve.log") as server:
            result = measure(server.url, username, password, args.profile)
    info = machine()
    if args.json:
        print(json.dumps({"machine": info, **result}, indent=2))
        return 0
    print(machine_line(info))
    print(f"profile {result['profile']}: {result['conditions']}")
    print(
        f"first load: {result['transferred_bytes'] / 1024:.0f} KiB over the network in "
        f"{result['requests']} requests; the service worker keeps "
        f"{result['kept_bytes'] / 1024:.0f} KiB for offline use"
    )
    print(
        "largest: " + ", ".join(f"/{url} {size / 1024:.0f} KiB" for size, url in result["largest"])
    )
    print(
        f"usable (camera on, {result['decoder']} decoder ready) after {result['usable_s']} s; "
        f"offline-ready after {result['offline_ready_s']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
