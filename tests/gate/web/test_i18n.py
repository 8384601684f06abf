"""The UI's languages: the Chinese catalogue covers every message id of the source, keeps
placeholders, is compiled; and the pages speak Chinese by default and English on request.

The catalogue checks extract the source's message ids afresh (into a temporary .pot with
``gate.translations.catalog``'s API), so they fail as soon as someone adds a ``_()`` string
without translating it. The page checks render the office, gate and resident pages of a small
demo compound and look for English words left in the Chinese pages' visible text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po, write_po
from flask import Flask
from flask.testing import FlaskClient
from web_helpers import demo_site, log_in

from gate.accounts.models import Role
from gate.translations import catalog
from passes import Code

ZH = "zh_Hans_CN"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")
CJK = re.compile(r"[\u4e00-\u9fff]")

# --- the catalogues ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every message id in the gate sources and templates, extracted into a temporary .pot."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    with pot.open("wb") as handle:
        write_po(handle, catalog.extract_template(), width=catalog.WIDTH)
    with pot.open("rb") as handle:
        template = read_po(handle)
    ids = {_text_id(message.id) for message in template if message.id}
    assert len(ids) > 300  # the extractor found the templates and the views
    return ids


def _text_id(message_id: object) -> str:
    return str(message_id[0] if isinstance(message_id, tuple) else message_id)


def _po(locale: str) -> Catalog:
    with catalog.po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def test_every_source_message_is_translated_into_chinese(source_ids: set[str]) -> None:
    chinese = {_text_id(m.id): m for m in _po(ZH) if m.id}
    missing = sorted(source_ids - set(chinese))
    untranslated = sorted(
        message_id
        for message_id in source_ids & set(chinese)
        if chinese[message_id].fuzzy or not chinese[message_id].string
    )
    assert missing == []
    assert untranslated == []
    not_chinese = sorted(
        message_id for message_id in source_ids if not CJK.search(str(chinese[message_id].string))
    )
    assert not_chinese == []  # a copied English msgstr is not a translation


def test_the_english_catalogue_knows_every_message_id(source_ids: set[str]) -> None:
    english = {_text_id(m.id) for m in _po("en") if m.id}
    assert sorted(source_ids - english) == []


def test_translations_keep_the_placeholders_of_their_message_ids() -> None:
    differing = []
    for message in _po(ZH):
        if not message.id:
            continue
        wanted = sorted(PLACEHOLDER.findall(_text_id(message.id)))
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            if sorted(PLACEHOLDER.findall(str(string))) != wanted:
                differing.append((_text_id(message.id), string))
    assert differing == []


@pytest.mark.parametrize("locale", catalog.LOCALES)
def test_the_compiled_catalogue_matches_its_po_file(locale: str) -> None:
    po = {_text_id(m.id): m.string for m in _po(locale) if m.id and m.string and not m.fuzzy}
    with catalog.mo_path(locale).open("rb") as handle:
        mo = {_text_id(m.id): m.string for m in read_mo(handle) if m.id}
    assert mo == po, "the .mo is stale: run python -m gate.translations.catalog compile"


def test_the_catalogue_check_command_passes() -> None:
    assert catalog.problems() == []


def test_the_check_ignores_which_babel_wrote_the_mo_but_not_a_changed_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = catalog.mo_path("zh_Hans_CN").read_bytes()
    other_babel = original.replace(b"Generated-By: Babel 2.", b"Generated-By: Babel 8.")
    stale = original.replace("通过".encode(), "通畅".encode(), 1)
    assert other_babel != original
    assert stale != original
    for content, expect_stale in ((other_babel, False), (stale, True)):
        mo = tmp_path / "messages.mo"
        mo.write_bytes(content)
        monkeypatch.setattr(catalog, "mo_path", lambda locale, mo=mo: mo)
        reported = [p for p in catalog.problems() if p.startswith("zh_Hans_CN: messages.mo")]
        assert bool(reported) is expect_stale


# --- the pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    app: Flask
    passwords: dict[Role, str]
    household_code: str
    resident_token: str

    def browser(self, locale: str, role: Role | None) -> FlaskClient:
        client = self.app.test_client()
        client.get(f"/lang/{locale}").close()
        if role is not None:
            assert log_in(client, role.value, self.passwords[role]).status_code == 302
        return client


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A small demo compound (SQLite) with a resident link."""
    demo = demo_site(tmp_path_factory.mktemp("i18n-site"))
    try:
        yield Site(demo.app, demo.passwords, demo.household.code, demo.resident_token)
    finally:
        demo.app.extensions["checkpoint"].engine.dispose()


OFFICE_PAGES = (
    "/",
    "/households",
    "/households/{code}",
    "/households/{code}/edit",
    "/households/new",
    "/households/import",
    "/passes/print",
    "/rules",
    "/log",
    "/log/conflicts",
    "/log/chain",
    "/devices",
    "/site",
    "/users",
    "/audit",
    "/account",
    "/logout",
    "/no-such-page",
)
"""Pages an administrator sees (the 404 page included)."""

ALLOWED_LATIN = frozenset(
    {
        "CSV", "Excel", "PDF", "PNG", "JSON", "English", "HTTPS", "xlsx", "csv", "txt",
        "K7QM", "XPA",
        "admin", "office", "auditor", "supervisor", "volunteer", "demo", "test",  # usernames
        "south", "XFL", "XFL2", "A1", "G1", "G2",  # codes of the demo's gate and places
        "Asia", "Shanghai", "PM", "AM", "C",
    }
    | {code.value for code in Code}  # machine codes, shown in the log next to the verdict
    | {part for code in Code for part in code.value.split("_")}
)  # fmt: skip
"""Latin words that are data, units, formats or language names, not UI text."""


class VisibleText(HTMLParser):
    """The text a user reads: text nodes, and titles, placeholders, labels and alt texts, and
    the gate script's texts. Left out: scripts, styles, the rules' JSON editor, and data shown
    verbatim (``<code>`` and ``class="mono"``: audit actions and details, hashes, codes)."""

    HIDDEN = frozenset({"script", "style", "textarea"})
    READ_ATTRIBUTES = frozenset({"title", "placeholder", "aria-label", "alt"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipped: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in self.HIDDEN or tag == "code" or "mono" in classes:
            self._skipped.append(tag)
        if self._skipped:
            return
        self.parts += [value for name, value in attrs if name in self.READ_ATTRIBUTES and value]
        if tag == "div" and ("id", "strings") in attrs:
            self.parts += [value for name, value in attrs if name.startswith("data-") and value]

    def handle_endtag(self, tag: str) -> None:
        if self._skipped and self._skipped[-1] == tag:
            self._skipped.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipped:
            self.parts.append(data)


MANUAL_CODE = re.compile(r"(?<![A-Za-z0-9*])[A-Z0-9*]{4}-[A-Z0-9*]{4}(?![A-Za-z0-9])")
"""A manual code (7R7Z-72Y6), or masked as the audit trail shows it (****-**Y6)."""
SCRIPT_PLACEHOLDER = re.compile(r"\{\w+\}")


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def english_words(html: str) -> set[str]:
    text = SCRIPT_PLACEHOLDER.sub("", MANUAL_CODE.sub("", visible_text(html)))
    words = re.findall(r"(?<![A-Za-z0-9_./-])[A-Za-z]{2,}(?![A-Za-z0-9_])", text)
    return {word for word in words if word not in ALLOWED_LATIN}


def _pages(site: Site, locale: str) -> dict[str, str]:
    pages: dict[str, str] = {}
    admin = site.browser(locale, Role.ADMIN)
    for template in OFFICE_PAGES:
        path = template.format(code=site.household_code)
        response = admin.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        pages[path] = response.get_data(as_text=True)
    pages["/gate"] = site.browser(locale, Role.VOLUNTEER).get("/gate").get_data(as_text=True)
    anonymous = site.browser(locale, None)
    pages["/login"] = anonymous.get("/login").get_data(as_text=True)
    pages["/p/<token>"] = anonymous.get(f"/p/{site.resident_token}").get_data(as_text=True)
    pages["/p/<bad token>"] = anonymous.get("/p/not-a-token").get_data(as_text=True)
    pages["403"] = site.browser(locale, Role.VOLUNTEER).get("/users").get_data(as_text=True)
    return pages


def test_chinese_pages_have_no_english_ui_words_left(site: Site) -> None:
    leftovers = {
        path: sorted(words)
        for path, html in _pages(site, "zh_CN").items()
        if (words := english_words(html))
    }
    assert leftovers == {}


def test_chinese_pages_have_chinese_titles_and_navigation(site: Site) -> None:
    pages = _pages(site, "zh_CN")
    titles = {path: re.search(r"<title>(.*?)</title>", html, re.S) for path, html in pages.items()}
    for path, title in titles.items():
        assert title is not None, path
        assert CJK.search(title.group(1)), (path, title.group(1))
    assert '<html lang="zh-CN">' in pages["/"]
    for label in ("概况", "住户", "出入证", "出入记录", "出行规则", "扫码设备", "用户"):
        assert f">{label}</a>" in pages["/"], label
    assert "请出示出入证" in pages["/gate"]
    assert "禁止" in pages["/gate"]  # the verdict word, waiting in the script's texts


def test_english_pages_speak_english(site: Site) -> None:
    pages = _pages(site, "en")
    assert '<html lang="en">' in pages["/"]
    for label in ("Overview", "Households", "Passes", "Crossing log", "Rules", "Users"):
        assert f">{label}</a>" in pages["/"], label
    assert "<title>Import households" in pages["/households/import"]
    assert "Show your pass" in pages["/gate"]
    assert "Log in" in pages["/login"]
    assert "My household pass" in pages["/p/<token>"]
    for path, html in pages.items():
        assert "出入记录" not in visible_text(html), path  # no Chinese UI text in English
