"""有效天数 has one limit everywhere: the issuing limit (MAX_VALID_DAYS), on the household
page and on /passes/print alike, in the browser (min/max) and on the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import transaction
from gate.issuing.operations import MAX_VALID_DAYS

PASSWORD = "correct-horse-battery"


@pytest.fixture
def office(
    committed_engine: Engine, db_url: str, tmp_path: Path
) -> Iterator[tuple[Compound, FlaskClient]]:
    compound = build_compound(db_url, tmp_path, households=1)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="vd-clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
    compound.app.config["WTF_CSRF_ENABLED"] = False
    client = compound.app.test_client()
    client.get("/lang/en")
    assert (
        client.post("/login", data={"username": "vd-clerk", "password": PASSWORD}).status_code
        == 302
    )
    try:
        yield compound, client
    finally:
        compound.dispose()


def _valid_days_input(html: str) -> str:
    match = re.search(r'<input[^>]*name="(?:issue-)?valid_days"[^>]*>', html)
    assert match, html
    return match.group(0)


def test_both_pages_offer_the_issuing_limit(office: tuple[Compound, FlaskClient]) -> None:
    compound, client = office
    code = compound.residents[0].code
    for path in (f"/households/{code}", "/passes/print"):
        field = _valid_days_input(client.get(path).get_data(as_text=True))
        assert 'min="1"' in field, path
        assert f'max="{MAX_VALID_DAYS}"' in field, path


def test_the_household_page_issues_up_to_the_limit_and_says_the_range_beyond(
    office: tuple[Compound, FlaskClient],
) -> None:
    compound, client = office
    code = compound.residents[0].code
    beyond = client.post(f"/households/{code}/passes", data={"valid_days": str(MAX_VALID_DAYS + 1)})
    assert beyond.status_code == 400
    assert f"between 1 and {MAX_VALID_DAYS}" in beyond.get_data(as_text=True)
    limit = client.post(
        f"/households/{code}/passes", data={"valid_days": str(MAX_VALID_DAYS), "reissue": "y"}
    )
    assert limit.status_code == 302, limit.get_data(as_text=True)
