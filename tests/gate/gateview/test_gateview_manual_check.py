"""The gate page's own checks before a crossing, on SQLite and PostgreSQL: a typed card code
is checked at once (``POST /gate/manual/check``: known or 404, this community only, nothing
recorded), and the gate chooser (``GET /gate/choose``, nothing preselected, the current gate
marked; the page links to it)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine
from web_helpers import CSRF_META, log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import transaction
from gate.devices.models import Gate
from gate.households.models import Household
from gate.issuing.operations import current_pass

PASSWORD = "correct horse battery"
CHECK = "/gate/manual/check"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    try:
        yield built
    finally:
        built.dispose()


def _logged_in(compound: Compound) -> FlaskClient:
    with transaction(compound.sessions) as session:
        user = create_user(
            session,
            community_id=compound.community_id,
            username=f"volunteer-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=Role.VOLUNTEER,
            actor="test",
        )
    client = compound.client()
    assert log_in(client, user.username, PASSWORD).status_code == 302
    return client


def _csrf(html: str) -> str:
    found = CSRF_META.search(html)
    assert found is not None
    return found.group(1)


def _manual_code(compound: Compound) -> str:
    with transaction(compound.sessions, read_only=True) as session:
        household = session.get_one(Household, compound.residents[0].household_id)
        record = current_pass(session, household)
        assert record is not None
        assert record.manual_code is not None
        return record.manual_code


def test_a_typed_code_is_checked_before_the_temperature_and_nothing_is_recorded(
    compound: Compound,
) -> None:
    client = _logged_in(compound)
    headers = {"X-CSRFToken": _csrf(client.get("/gate").get_data(as_text=True))}
    code = _manual_code(compound)
    known = client.post(CHECK, json={"code": code.lower().replace("-", " ")}, headers=headers)
    assert (known.status_code, known.get_json()) == (200, {"known": True})
    mistyped = code[:-1] + ("A" if code[-1] != "A" else "B")
    for wrong in (mistyped, "not a code", None):
        answer = client.post(CHECK, json={"code": wrong}, headers=headers)
        assert answer.status_code == 404
        assert answer.get_json()["error"]["code"] == "unknown_manual_code"
    assert client.post(CHECK, json={"code": code}).status_code == 400  # CSRF, as every POST
    anonymous = compound.client().post(
        CHECK, json={"code": code}, headers={**headers, "Accept": "application/json"}
    )
    assert anonymous.status_code == 401
    assert compound.crossing_count() == 0


def test_the_chooser_preselects_nothing_and_marks_the_current_gate(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        north = Gate(community_id=compound.community_id, name="北门", code="north")
        session.add(north)
        session.flush()
        north_id = north.id
    client = _logged_in(compound)
    first = client.get("/gate").get_data(as_text=True)  # two gates: the chooser
    assert first.count('class="gate-choice"') == 2
    assert "selected" not in first
    assert "is-current" not in first
    assert client.get("/gate/choose").status_code == 200
    chosen = client.post(
        "/gate/choose", data={"gate_id": str(north_id), "csrf_token": _csrf(first)}
    )
    assert chosen.status_code == 302
    page = client.get("/gate").get_data(as_text=True)
    assert 'href="/gate/choose"' in page
    again = client.get("/gate/choose")
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert html.count("is-current") == 1
    assert re.search(rf'value="{north_id}"\s+class="gate-choice is-current"', html)
    assert 'href="/gate"' in html  # back to the gate without changing it
