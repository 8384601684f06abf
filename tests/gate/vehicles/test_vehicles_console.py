"""The console's vehicles page (/vehicles): register a car with its pass, print its
windscreen card, re-issue, revoke and remove it; a bad plate is refused on the form and
nothing is written."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from web_helpers import log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import transaction
from gate.vehicles.models import Vehicle, VehiclePassRecord

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    try:
        yield built
    finally:
        built.dispose()


def _office(compound: Compound) -> FlaskClient:
    username = f"office-{secrets.token_hex(3)}"
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username=username,
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
            display_name="李文员",
        )
    client = compound.client()
    assert log_in(client, username, PASSWORD).status_code == 302
    return client


def _csrf(client: FlaskClient) -> str:
    found = CSRF_INPUT.search(client.get("/vehicles").get_data(as_text=True))
    assert found
    return found.group(1)


def test_register_print_reissue_revoke_and_remove_a_car(compound: Compound) -> None:
    client = _office(compound)
    code = compound.residents[0].code
    answer = client.post(
        "/vehicles",
        data={
            "csrf_token": _csrf(client),
            "household": code,
            "plate": "鲁e d12345",
            "note": "白色轿车",
            "days": "90",
            "issue": "y",
        },
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "鲁ED12345" in page
    assert code in page
    with transaction(compound.sessions, read_only=True) as session:
        vehicle = session.scalars(select(Vehicle)).one()
        vehicle_id = vehicle.id
    token = _csrf(client)
    pdf = client.post(f"/vehicles/{vehicle_id}/print", data={"csrf_token": token, "format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    png = client.post(f"/vehicles/{vehicle_id}/print", data={"csrf_token": token, "format": "png"})
    assert png.data.startswith(b"\x89PNG")
    assert (
        client.post(f"/vehicles/{vehicle_id}/issue", data={"csrf_token": token}).status_code == 302
    )
    revoked = client.post(
        f"/vehicles/{vehicle_id}/revoke", data={"csrf_token": token, "reason": "遗失"}
    )
    assert revoked.status_code == 302
    removed = client.post(
        f"/vehicles/{vehicle_id}/remove", data={"csrf_token": token, "reason": "已售出"}
    )
    assert removed.status_code == 302
    with transaction(compound.sessions, read_only=True) as session:
        records = list(session.scalars(select(VehiclePassRecord)))
        assert len(records) == 2
        assert all(record.revoked_at is not None for record in records)
        assert session.scalars(select(Vehicle)).one().removed_at is not None
    assert (
        client.post(f"/vehicles/{vehicle_id}/print", data={"csrf_token": token}).status_code == 404
    )


def test_a_bad_plate_is_refused_on_the_form(compound: Compound) -> None:
    client = _office(compound)
    answer = client.post(
        "/vehicles",
        data={
            "csrf_token": _csrf(client),
            "household": compound.residents[0].code,
            "plate": "鲁E1234",
            "days": "90",
        },
    )
    assert answer.status_code == 409
    assert "field-error" in answer.get_data(as_text=True)
    with transaction(compound.sessions, read_only=True) as session:
        assert list(session.scalars(select(Vehicle))) == []
