"""The office's ``/visitors`` pages on SQLite and PostgreSQL: issue a visitor pass through the
form, see its printable page with a QR that decodes to the pass, download it (audited),
revoke it; the week's walk-ins listed with masked phones; other roles refused."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from api_helpers import Compound, add_console_users, build_compound, console_client
from PIL import Image
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.db import transaction
from gate.visitors.models import VisitorPassRecord
from passes import VerifiedVisitorPass, verify_visitor_pass

zxingcpp = pytest.importorskip("zxingcpp")
PASSWORD = "correct horse battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    add_console_users(
        built,
        PASSWORD,
        [("office1", Role.OFFICE, "周文员"), ("vol1", Role.VOLUNTEER, "李志愿")],
    )
    try:
        yield built
    finally:
        built.dispose()


def _issue(client, **fields: str):
    form = {
        "kind": "visitor",
        "name": "王访客",
        "phone": "13812345678",
        "plate": "",
        "host": "1-101",
        "purpose": "探望老人",
        "start": "",
        "hours": "8",
        "single_use": "y",
        **fields,
    }
    return client.post("/visitors", data=form)


def test_issue_show_send_and_revoke_a_visitor_pass(compound: Compound) -> None:
    office = console_client(compound, "office1", PASSWORD)
    answer = _issue(office)
    assert answer.status_code == 302
    page = office.get(answer.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "王**" in html
    assert "138****5678" in html
    assert "13812345678" not in html
    qr = office.get(re.search(r'src="(/visitors/\d+/qr\.png)"', html).group(1))
    (decoded,) = zxingcpp.read_barcodes(np.asarray(Image.open(io.BytesIO(qr.data)).convert("L")))
    context = compound.services.contexts.get
    with transaction(compound.sessions, read_only=True) as session:
        keys = context(session, compound.community_id).keys
        record = session.scalars(select(VisitorPassRecord)).one()
    check = verify_visitor_pass(decoded.text, keys, community_id=compound.community_id)
    assert isinstance(check, VerifiedVisitorPass)
    sent = office.post(f"/visitors/{record.id}/send")
    assert sent.headers["Content-Type"] == "image/png"
    listing = office.get("/visitors").get_data(as_text=True)
    assert 'data-state="active"' in listing
    assert "13812345678" not in listing
    revoked = office.post(f"/visitors/{record.id}/revoke", data={"reason": "取消来访"})
    assert revoked.status_code == 302
    assert 'data-state="revoked"' in office.get("/visitors").get_data(as_text=True)
    with transaction(compound.sessions, read_only=True) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"visitor_pass.issue", "visitor_pass.print", "visitor_pass.revoke"} <= actions


def test_bad_input_is_shown_on_the_form_and_nothing_is_issued(compound: Compound) -> None:
    office = console_client(compound, "office1", PASSWORD)
    answer = _issue(office, plate="NOTAPLATE")
    assert answer.status_code == 422
    assert 'class="field-error"' in answer.get_data(as_text=True)
    assert _issue(office, purpose="").status_code == 400
    with transaction(compound.sessions, read_only=True) as session:
        assert session.scalars(select(VisitorPassRecord)).all() == []


def test_walk_ins_are_listed_with_masked_phones(compound: Compound) -> None:
    gate = console_client(compound, "vol1", PASSWORD)
    page = gate.get("/gate").get_data(as_text=True)
    token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
    body = {"id": str(uuid.uuid4()), "kind": "delivery", "outcome": "handed_over",
            "phone": "13900001111", "purpose": "外卖"}  # fmt: skip
    assert gate.post("/gate/walk-in", json=body, headers={"X-CSRFToken": token}).status_code == 200
    office = console_client(compound, "office1", PASSWORD)
    html = office.get("/visitors").get_data(as_text=True)
    assert "139****1111" in html
    assert "13900001111" not in html
    assert "外卖" in html


def test_only_the_office_may_open_the_visitor_pages(compound: Compound) -> None:
    volunteer = console_client(compound, "vol1", PASSWORD)
    assert volunteer.get("/visitors").status_code == 403
    assert volunteer.post("/visitors", data={}).status_code == 403
