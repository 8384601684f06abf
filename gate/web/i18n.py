"""Languages and time zones of the web UI (Flask-Babel).

Simplified Chinese is the default (``settings.default_locale``), English the second language.
The locale comes from the session (set by ``/lang/<code>``), then the browser's
Accept-Language, then the default. Message ids are English in code and templates; the zh_CN
catalogue translates them (``python gate/translations/catalog.py --help``).

The time zone is the logged-in user's community's, else ``settings.timezone``.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale

from gate.settings import LOCALES, Settings

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
SESSION_LOCALE_KEY = "locale"
LANGUAGES: tuple[tuple[str, str], ...] = (("zh_CN", "中文"), ("en", "English"))
"""The language switch: locale code and the language's own name."""


def configure_i18n(app: Flask, settings: Settings) -> None:
    """Flask-Babel with the session/browser locale and the community's time zone."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", settings.default_locale)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", settings.timezone)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.context_processor
    def _language_context() -> dict[str, object]:
        if not has_request_context():
            return {"languages": LANGUAGES, "current_locale": settings.default_locale, "here": "/"}
        return {"languages": LANGUAGES, "current_locale": current_locale(), "here": here()}


def select_locale() -> Locale:
    """The request's locale: session choice, then Accept-Language, then the default."""
    chosen = session.get(SESSION_LOCALE_KEY)
    if not (isinstance(chosen, str) and chosen in LOCALES):
        values = [value for value, _q in request.accept_languages]
        chosen = locale_from_accept_language(values) or current_app.config["BABEL_DEFAULT_LOCALE"]
    # Babel names zh_CN "zh_Hans_CN" (likely script added); so is the catalogue directory.
    return Locale.parse(str(chosen))


def locale_from_accept_language(values: list[str]) -> str | None:
    """The first supported locale among browser language tags (best first): any ``zh*`` is
    zh_CN (the only Chinese catalogue), any ``en*`` is en; None when nothing matches."""
    for value in values:
        tag = value.strip().lower().replace("_", "-")
        if tag == "zh" or tag.startswith("zh-"):
            return "zh_CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return None


def select_timezone() -> str | None:
    """The logged-in user's community's zone; None (the app default) otherwise."""
    from gate.web.auth import current_account

    account = current_account()
    return None if account is None else account.timezone


def current_locale() -> str:
    """The request's locale code as the settings spell it (``zh_CN`` or ``en``)."""
    locale = get_locale()
    if locale is None or locale.language == "zh":
        return "zh_CN"
    return str(locale.language)


def is_chinese() -> bool:
    """Whether the request's language is Chinese."""
    return current_locale().startswith("zh")


def here() -> str:
    """This page's path and query, for ``?next=`` links (the language switch)."""
    return request.full_path if request.query_string else request.path
