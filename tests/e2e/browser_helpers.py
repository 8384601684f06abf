"""Driving Debian's Chromium with Playwright against the real gate app on a loopback port.

- :func:`require_browser`: Playwright's sync API and the Chromium executable, or a skip with
  the reason (a failure instead when ``CHECKPOINT_REQUIRE_BROWSER=1``).
- :func:`seed_site`: a small demo compound on a SQLite file, served by :func:`live_server`.
- :func:`launch`: Chromium with the flags this machine needs, optionally with a fake camera
  that plays a Y4M file written by :func:`write_y4m` from a PNG (a pass card).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from gate.accounts.models import Role
from gate.app import create_app
from gate.db import make_engine, transaction
from gate.demo import build_demo
from gate.migrations import upgrade
from gate.settings import Settings

CHROMIUM = "/usr/bin/chromium"
REQUIRE_ENV = "CHECKPOINT_REQUIRE_BROWSER"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
"""Where the browser tests leave their screenshots (gitignored)."""


def require_browser() -> tuple[ModuleType, str]:
    """Playwright's sync API and the Chromium path; skip (or fail in CI) without them."""
    problem = None
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        sync_api, problem = None, "the playwright package is not installed"  # type: ignore[assignment]
    chromium = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if problem is None and chromium is None:
        problem = f"no Chromium at {CHROMIUM} (Debian package chromium)"
    if problem is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{problem}; {REQUIRE_ENV}=1 requires the browser", pytrace=False)
        pytest.skip(problem)
    assert sync_api is not None
    assert chromium is not None
    return sync_api, chromium


def launch(playwright: Any, chromium: str, *, fake_video: Path | None = None) -> Any:
    """Chromium, headless; with ``fake_video`` the camera is that Y4M file, allowed at once."""
    args = list(CHROMIUM_ARGS)
    if fake_video is not None:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_video}",
        ]
    return playwright.chromium.launch(executable_path=chromium, args=args)


def write_y4m(png: bytes, path: Path, *, width: int = 640, height: int = 480) -> None:
    """A short Y4M video (4:2:0) of ``png`` centred on a white ``width`` x ``height`` frame;
    Chromium's fake camera loops it."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a PNG"
    margin = 16
    scale = min((width - 2 * margin) / image.shape[1], (height - 2 * margin) / image.shape[0])
    size = (int(image.shape[1] * scale), int(image.shape[0] * scale))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 255, np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = resized
    planes = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()
    with path.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _frame in range(10):
            handle.write(b"FRAME\n")
            handle.write(planes)


@dataclass(frozen=True)
class Site:
    """The demo compound's app and the logins of its roles."""

    app: Flask
    passwords: dict[Role, str]

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.app.extensions["checkpoint"].sessions  # type: ignore[no-any-return]


def seed_site(directory: Path, *, households: int = 12) -> Site:
    """The demo compound (a day of crossings) on a new SQLite file under ``directory``."""
    url = f"sqlite:///{directory / 'browser.sqlite3'}"
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
    app = create_app(settings=settings)
    with transaction(app.extensions["checkpoint"].sessions) as session:
        summary = build_demo(
            session,
            keys_dir=settings.keys_dir,
            now=datetime.now(UTC),
            households=households,
            days=1,
        )
    return Site(app, {login.role: login.password for login in summary.logins})


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """``app`` served on a free loopback port (threads); yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        app.extensions["checkpoint"].engine.dispose()


def log_in(page: Any, base: str, username: str, password: str) -> None:
    """Log in through the login form and wait to leave it."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/login" not in url)
