"""The Flask application factory: a list of small configuration steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gate.community.context import ContextCache
from gate.db import make_engine, session_factory
from gate.settings import Settings, load_settings


@dataclass
class Services:
    """What request handlers need, built once per app (reachable as ``services()``)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    contexts: ContextCache = field(default_factory=ContextCache)


def create_app(
    config_overrides: Mapping[str, Any] | None = None, *, settings: Settings | None = None
) -> Flask:
    """Build the gate server. ``settings`` defaults to the environment's."""
    app = Flask(__name__, instance_relative_config=False)
    settings = settings or load_settings()
    configure_flask(app, settings, config_overrides or {})
    configure_db(app, settings)
    register_blueprints(app)
    return app


def configure_flask(app: Flask, settings: Settings, overrides: Mapping[str, Any]) -> None:
    """Secrets, cookie policy and request limits."""
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)


def configure_db(app: Flask, settings: Settings) -> None:
    """One engine per app; the session of a request is closed when the request ends."""
    import gate.models  # noqa: F401  (every mapper must be configured before the first query)

    engine = make_engine(app.config.get("DATABASE_URL", settings.database_url))
    app.extensions["checkpoint"] = Services(settings, engine, session_factory(engine))

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def register_blueprints(app: Flask) -> None:
    """The scanner API (and, as they land, the office and resident pages)."""
    from gate.api.views import api

    app.register_blueprint(api)


def services() -> Services:
    """The current app's services."""
    from flask import current_app

    return current_app.extensions["checkpoint"]  # type: ignore[no-any-return]
