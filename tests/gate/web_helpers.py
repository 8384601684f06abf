"""A gate app bound to the test's database transaction, and a browser-like client for it."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from gate.app import create_app
from gate.settings import Settings

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def make_app(
    db_url: str, sessions: sessionmaker[Session], instance_dir: Path, **environ: str
) -> Flask:
    """The real app on ``db_url``, whose request sessions join the test's outer transaction."""
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(instance_dir),
            "CHECKPOINT_DATABASE_URL": db_url,
            **environ,
        }
    )
    app = create_app({"TESTING": True}, settings=settings)
    services = app.extensions["checkpoint"]
    services.engine.dispose()
    services.sessions = sessions
    return app


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page like a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(page) or CSRF_FIELD.search(page)
    assert match, page
    return match.group(1)


def log_in(client: FlaskClient, username: str, password: str, **form: str) -> TestResponse:
    """Post the login form with a valid CSRF token."""
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, **form},
    )
