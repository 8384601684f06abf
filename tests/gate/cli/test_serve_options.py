"""``checkpoint serve``'s embedded gunicorn: on SQLite its worker gets the short thread switch
interval that deploy/gunicorn.conf.py gives (the office's threads give a scan thread holding
the write turn the GIL back quickly); on PostgreSQL nothing changes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from gate.api.fast_scan import FastScans
from gate.app import create_app
from gate.cli import serving
from gate.settings import Settings


def _options(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> dict[str, Any]:
    captured: dict[str, Any] = {}

    def capture(self: Any) -> None:
        captured.update(self.options)

    monkeypatch.setattr(serving._Gunicorn, "run", capture)
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(tmp_path / "instance"),
            "CHECKPOINT_DATABASE_URL": url,
        }
    )
    app = create_app({"TESTING": True}, settings=settings)
    try:
        serving.run_server(app, "127.0.0.1", 5999)
    finally:
        app.extensions["checkpoint"].engine.dispose()
    return captured


def test_on_sqlite_the_worker_switches_threads_every_half_millisecond(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    options = _options(monkeypatch, f"sqlite:///{tmp_path / 'gate.sqlite3'}", tmp_path)
    assert (options["workers"], options["threads"]) == (1, 8)
    before = sys.getswitchinterval()
    try:
        options["post_fork"](None, None)
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(before)


def test_on_postgresql_the_interval_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    options = _options(monkeypatch, "postgresql+psycopg://postgres@127.0.0.1:5432/none", tmp_path)
    assert "post_fork" not in options


def test_the_embedded_server_answers_scans_on_the_fast_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As gate.wsgi deploys it.
    monkeypatch.setattr(serving._Gunicorn, "run", lambda self: None)
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(tmp_path / "instance"),
            "CHECKPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'gate.sqlite3'}",
        }
    )
    app = create_app({"TESTING": True}, settings=settings)
    try:
        serving.run_server(app, "127.0.0.1", 5999)
        assert isinstance(app.wsgi_app, FastScans)
    finally:
        app.extensions["checkpoint"].engine.dispose()
