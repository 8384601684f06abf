"""``/supervisor-cards``: office staff issue a card to a supervisor account, print it as PDF or
PNG (the PNG's QR is the card), revoke it; other roles are refused; the page reads in Chinese."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from api_helpers import Compound, add_console_users, build_compound, console_client
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.db import transaction
from gate.signing.operations import active_signing_key
from gate.supervisors.models import SupervisorCardRecord
from passes import KeySet, VerifiedCard, verify_supervisor_card

zxingcpp = pytest.importorskip("zxingcpp")
PASSWORD = "correct-horse-battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    add_console_users(
        built,
        PASSWORD,
        [
            ("office1", Role.OFFICE, "李文员"),
            ("wang.sup", Role.SUPERVISOR, "王主任"),
            ("vol1", Role.VOLUNTEER, "赵志愿"),
        ],
    )
    try:
        yield built
    finally:
        built.dispose()


def _client(compound: Compound, username: str) -> FlaskClient:
    return console_client(compound, username, PASSWORD)


def _cards(compound: Compound) -> list[SupervisorCardRecord]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = list(session.scalars(select(SupervisorCardRecord)))
        for row in rows:
            session.expunge(row)
        return rows


def test_office_issues_prints_and_revokes_a_card(compound: Compound) -> None:
    client = _client(compound, "office1")
    page = client.get("/supervisor-cards", headers={"Accept-Language": "zh-CN"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "发放主管卡" in html
    assert "王主任 (wang.sup)" in html
    assert "赵志愿" not in html  # a volunteer cannot hold a card

    issued = client.post("/supervisor-cards", data={"username": "wang.sup", "days": "30"})
    assert issued.status_code == 302
    [card] = _cards(compound)
    number = card.card_id.hex()[:8].upper()
    listing = client.get(issued.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'id="card-{number}"', listing)

    png = client.post(f"/supervisor-cards/{card.id}/print", data={"format": "png"})
    assert (png.status_code, png.mimetype) == (200, "image/png")
    image = np.asarray(Image.open(io.BytesIO(png.get_data())).convert("L"))
    [text] = [result.text for result in zxingcpp.read_barcodes(image)]
    with transaction(compound.sessions, read_only=True) as session:
        key = active_signing_key(session, compound.community_id)
    check = verify_supervisor_card(
        text, KeySet((key.entry,)), community_id=compound.community_id, now=compound.clock()
    )
    assert isinstance(check, VerifiedCard)
    assert check.card_id == card.card_id
    pdf = client.post(f"/supervisor-cards/{card.id}/print", data={"format": "pdf"})
    assert pdf.get_data().startswith(b"%PDF")

    assert client.post(f"/supervisor-cards/{card.id}/revoke", data={}).status_code == 302
    assert _cards(compound)[0].revoked_at is None  # no reason: nothing revoked
    revoked = client.post(f"/supervisor-cards/{card.id}/revoke", data={"reason": "遗失"})
    assert revoked.status_code == 302
    assert _cards(compound)[0].revoked_at is not None
    with transaction(compound.sessions, read_only=True) as session:
        actions = sorted(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("supervisor_card.%"))
            )
        )
    assert actions == [
        "supervisor_card.issue",
        "supervisor_card.print",
        "supervisor_card.print",
        "supervisor_card.revoke",
    ]


def test_only_office_staff_and_admins_open_the_page(compound: Compound) -> None:
    assert _client(compound, "vol1").get("/supervisor-cards").status_code == 403
    assert _client(compound, "wang.sup").get("/supervisor-cards").status_code == 403
    assert compound.app.test_client().get("/supervisor-cards").status_code in (302, 401)
    office = _client(compound, "office1")
    assert office.post("/supervisor-cards/999999/revoke", data={"reason": "x"}).status_code == 404
