"""The Flask application factory: a list of small configuration steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from gate.db import make_engine, session_factory
from gate.services import EXTENSION_KEY, Services
from gate.settings import Settings, load_settings


def create_app(
    config_overrides: Mapping[str, Any] | None = None, *, settings: Settings | None = None
) -> Flask:
    """Build the gate server. ``settings`` defaults to the environment's."""
    app = Flask(__name__, instance_relative_config=False)
    settings = settings or load_settings()
    configure_flask(app, settings, config_overrides or {})
    configure_proxy(app, settings)
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
    )
    app.config.update(overrides)


def configure_proxy(app: Flask, settings: Settings) -> None:
    """Believe ``X-Forwarded-For``/``-Proto``/``-Host`` only from the ``CHECKPOINT_PROXY_COUNT``
    trusted proxies in front (the shipped nginx config is one): then ``request.remote_addr``
    is the client's address, for login throttling and the session check. With 0 (the
    default) the headers are a client's to invent, and are ignored."""
    if settings.proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = settings.proxy_count
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )


def configure_db(app: Flask, settings: Settings) -> None:
    """One engine per app; each request is one unit of work (``gate.web.unit_of_work``)."""
    import gate.models  # noqa: F401  (every mapper must be configured before the first query)
    from gate.web.unit_of_work import configure_unit_of_work

    engine = make_engine(settings.database_url)
    app.extensions[EXTENSION_KEY] = Services(settings, engine, session_factory(engine))
    configure_unit_of_work(app)


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


def register_blueprints(app: Flask) -> None:
    """The scanner API (no CSRF: bearer tokens), the login pages, the office console, the
    resident's phone pass and the browser gate view."""
    from gate.api.views import api
    from gate.console import console
    from gate.gateview.views import gateview
    from gate.resident.views import resident
    from gate.tls.views import trust
    from gate.web.accounts import accounts
    from gate.web.security import exempt_from_csrf
    from gate.web.setup import firstrun

    exempt_from_csrf(api)
    for blueprint in (api, accounts, console, resident, gateview, trust, firstrun):
        app.register_blueprint(blueprint)
