"""A gate app bound to the test's database transaction, and a browser-like client for it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.app import create_app
from gate.db import make_engine, transaction
from gate.demo import build_demo
from gate.households.models import Household
from gate.issuing.models import IssuedPass
from gate.issuing.operations import current_pass
from gate.issuing.resident_links import issue_resident_link
from gate.migrations import upgrade
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


@dataclass(frozen=True)
class DemoSite:
    """A small demo compound (SQLite file of its own) served by the real app, with a
    resident link for its first household. ``session`` is open only inside
    :func:`demo_site`'s ``extra`` callback."""

    app: Flask
    passwords: dict[Role, str]
    household: Household
    issued: IssuedPass
    resident_token: str


def demo_site(
    directory: Path, *, extra: Callable[[Session, DemoSite], None] | None = None
) -> DemoSite:
    """Migrate a SQLite file in ``directory``, build the demo (12 households, one day) and a
    resident link in one transaction; ``extra(session, site)`` adds rows in the same one.
    The caller disposes ``site.app.extensions["checkpoint"].engine``."""
    url = f"sqlite:///{directory / 'site.sqlite3'}"
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
    app = create_app({"TESTING": True}, settings=settings)
    services = app.extensions["checkpoint"]
    now = datetime.now(UTC)
    with transaction(services.sessions) as session:
        summary = build_demo(session, keys_dir=settings.keys_dir, now=now, households=12, days=1)
        household = session.scalars(select(Household).order_by(Household.code).limit(1)).one()
        issued = current_pass(session, household)
        assert issued is not None
        token = issue_resident_link(session, issued, actor="test", now=now)
        passwords = {login.role: login.password for login in summary.logins}
        site = DemoSite(app, passwords, household, issued, token)
        if extra is not None:
            extra(session, site)
    return site
