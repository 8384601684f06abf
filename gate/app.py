"""The Flask application factory: a list of small configuration steps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from flask import Blueprint, Flask, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gate.community.context import ContextCache
from gate.db import make_engine, session_factory, utcnow
from gate.settings import Settings, load_settings


@dataclass
class Services:
    """What request handlers need, built once per app (reachable as ``services()``)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    contexts: ContextCache = field(default_factory=ContextCache)
    clock: Callable[[], datetime] = utcnow
    """The server's "now" (aware UTC) for decisions and device bookkeeping; tests replace it."""


def create_app(
    config_overrides: Mapping[str, Any] | None = None, *, settings: Settings | None = None
) -> Flask:
    """Build the gate server. ``settings`` defaults to the environment's."""
    app = Flask(__name__, instance_relative_config=False)
    settings = settings or load_settings()
    configure_flask(app, settings, config_overrides or {})
    configure_db(app, settings)
    configure_i18n(app, settings)
    configure_security(app, settings)
    configure_auth(app)
    register_blueprints(app)
    configure_errors(app)
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


def configure_i18n(app: Flask, settings: Settings) -> None:
    """Languages (zh_CN first, en), time zones and the display filters."""
    from gate.web.formatting import configure_formatting
    from gate.web.i18n import configure_i18n as configure_babel

    configure_babel(app, settings)
    configure_formatting(app)


def configure_security(app: Flask, settings: Settings) -> None:
    """CSRF on every browser form and non-GET route, security headers, no-store pages."""
    from gate.web.security import configure_security as configure_browser_security

    configure_browser_security(app, settings)


def configure_auth(app: Flask) -> None:
    """Logins (Flask-Login) and the role-filtered navigation."""
    from gate.web.auth import configure_auth as configure_login
    from gate.web.navigation import configure_navigation

    configure_login(app)
    configure_navigation(app)


def configure_errors(app: Flask) -> None:
    """Error pages in the user's language (JSON under /api/)."""
    from gate.web.errors import configure_errors as configure_error_pages

    configure_error_pages(app)


#: Web UI packages that land on their own; each is registered when its module exists.
OPTIONAL_BLUEPRINTS = ("console", "resident", "gateview")


def register_blueprints(app: Flask) -> None:
    """The scanner API (no CSRF: bearer tokens), the login pages, and the office, resident
    and gate-view pages that exist."""
    from gate.accounts.views import accounts, index
    from gate.api.views import api
    from gate.web.security import exempt_from_csrf

    exempt_from_csrf(api)
    app.register_blueprint(api)
    app.register_blueprint(accounts)
    for package in OPTIONAL_BLUEPRINTS:
        blueprint = _optional_blueprint(package)
        if blueprint is not None:
            app.register_blueprint(blueprint)
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        app.add_url_rule("/", "index", index)


def _optional_blueprint(package: str) -> Blueprint | None:
    """The blueprint of ``gate.<package>`` (in its ``views`` module or the package itself):
    the one named ``package``, else the only one. None while the package does not exist yet
    (a directory without ``__init__.py`` does not count)."""
    spec = find_spec(f"gate.{package}")
    if spec is None or spec.origin is None:
        return None
    found: list[Blueprint] = []
    for module_name in (f"gate.{package}.views", f"gate.{package}"):
        if find_spec(module_name) is not None:
            found += [
                v for v in vars(import_module(module_name)).values() if isinstance(v, Blueprint)
            ]
    named = [blueprint for blueprint in found if blueprint.name == package]
    distinct = {id(blueprint): blueprint for blueprint in named or found}
    if len(distinct) != 1:
        raise RuntimeError(f"gate.{package} must define one blueprint (named {package!r})")
    return next(iter(distinct.values()))


def services() -> Services:
    """The current app's services."""
    from flask import current_app

    return current_app.extensions["checkpoint"]  # type: ignore[no-any-return]
