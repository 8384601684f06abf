"""``checkpoint passes link`` and ``checkpoint community rotating-codes`` end to end on a
temporary SQLite database, with the resident page served by the real app on the same file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_cli_registry as registry
from api_helpers import app_settings
from flask import Flask
from openpyxl import load_workbook
from test_cli_registry import Office, register, write_xlsx

import gate.cli.links  # noqa: F401  (adds `passes link` and `community rotating-codes`)
from gate.app import create_app
from gate.cli.setup import community_group
from gate.community.models import Community
from gate.db import session_factory, transaction

registry.root.add_command(community_group)

BASE = "https://pass.example.org"
LINK = re.compile(r"^(\S+)\t" + re.escape(BASE) + r"/p/([A-Za-z0-9_-]{43})$", re.MULTILINE)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
    rows, _bad = register(40)  # buildings 1..10, four households each
    office("households", "import", str(write_xlsx(tmp_path / "住户.xlsx", rows)))
    office("keys", "create")
    office("passes", "issue", "--all")
    try:
        yield office
    finally:
        office.engine.dispose()


@pytest.fixture
def app(office: Office) -> Iterator[Flask]:
    app = create_app(settings=app_settings(office.url, office.directory))
    try:
        yield app
    finally:
        app.extensions["checkpoint"].engine.dispose()


def _links(output: str) -> dict[str, str]:
    return dict(LINK.findall(output))


def test_links_for_a_building_each_open_their_own_household_and_no_other(
    office: Office, app: Flask, tmp_path: Path
) -> None:
    sheet = tmp_path / "links.xlsx"
    result = office(
        "passes", "link", "--building", "7", "--base-url", BASE + "/", "--out", str(sheet)
    )
    links = _links(result.output)
    assert sorted(links) == ["7-1-101", "7-1-102", "7-2-101", "7-2-102"]
    rows = list(load_workbook(sheet).active.iter_rows(values_only=True))
    assert rows[0] == ("房号", "手机出入证链接")
    assert dict(rows[1:]) == {code: f"{BASE}/p/{token}" for code, token in links.items()}
    client = app.test_client()
    for code, token in links.items():
        page = client.get(f"/p/{token}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert f"{code} 张*" in html
        assert [other for other in links if other != code and other in html] == []
    assert len(office.audit("resident_link.issue")) == 4


def test_reissuing_replaces_the_link_and_revoking_ends_it(office: Office, app: Flask) -> None:
    first = _links(office("passes", "link", "--household", "3-1-101", "--base-url", BASE).output)
    again = _links(office("passes", "link", "--household", "3-1-101", "--base-url", BASE).output)
    client = app.test_client()
    assert client.get(f"/p/{first['3-1-101']}").status_code == 404
    assert client.get(f"/p/{again['3-1-101']}").status_code == 200
    assert len(office.audit("resident_link.reissue")) == 1

    office("community", "rotating-codes", "on")
    token = again["3-1-101"]
    assert client.get(f"/p/{token}/code").status_code == 200
    revoked = office("passes", "link", "--household", "3-1-101", "--revoke", "--reason", "手机丢失")
    assert "revoked 3-1-101" in revoked.output
    [event] = office.audit("resident_link.revoke")
    assert event.reason == "手机丢失"
    page = client.get(f"/p/{token}")
    assert page.status_code == 404
    assert "data:image/png" not in page.get_data(as_text=True)
    code = client.get(f"/p/{token}/code", headers={"Accept": "application/json"})
    assert code.status_code == 404
    assert "code" not in code.get_json()
    refused = office("passes", "link", "--household", "3-1-101", "--revoke", code=1)
    assert "没有" in refused.output or "no resident link" in refused.output


def test_a_link_needs_a_base_url_and_a_valid_pass(office: Office) -> None:
    missing = office("passes", "link", "--household", "3-1-101", code=2)
    assert "--base-url" in missing.output
    office("passes", "revoke", "--household", "3-1-101", "--reason", "搬离")
    refused = office("passes", "link", "--household", "3-1-101", "--base-url", BASE, code=1)
    assert "3-1-101" in refused.output
    assert office.audit("resident_link.issue") == []


def test_rotating_codes_on_and_off_are_audited_once_per_change(office: Office) -> None:
    assert "动态码已开启" in office("community", "rotating-codes", "on").output
    assert "未变化" in office("community", "rotating-codes", "on").output
    office("community", "rotating-codes", "off", "--actor", "admin")
    events = office.audit("community.rotating_codes")
    assert [(e.actor, e.subject_id) for e in events][1:] == [("admin", "xfl")]
    assert len(events) == 2


def test_cards_carry_a_second_qr_that_opens_the_household_link(
    office: Office, app: Flask, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image

    cards = tmp_path / "cards"
    result = office(
        "passes", "link", "--household", "5-1-101", "--base-url", BASE, "--cards", str(cards)
    )
    [(code, token)] = _links(result.output).items()
    texts = {found.text for found in zxingcpp.read_barcodes(Image.open(cards / f"{code}.png"))}
    url = f"{BASE}/p/{token}"
    assert url in texts
    assert any(text.startswith("CP1:") for text in texts)
    assert app.test_client().get(f"/p/{token}").status_code == 200
