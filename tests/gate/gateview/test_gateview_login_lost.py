"""A phone whose login is gone (the browser restarted, the page opened offline from the
service worker) is told so in a way its script can tell apart, on SQLite and PostgreSQL: the
upload and the scan of a page without a session answer 401 ``login_required`` (not the CSRF
400 of a stale page), record nothing, and upload once the same volunteer logs in again."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import NORMAL, Compound, build_compound, scan_body
from sqlalchemy import Engine
from web_helpers import CSRF_META, log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import transaction
from passes import Direction

PASSWORD = "correct horse battery"
BATCH = "/gate/crossings/batch"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    try:
        yield built
    finally:
        built.dispose()


def _volunteer(compound: Compound) -> str:
    with transaction(compound.sessions) as session:
        user = create_user(
            session,
            community_id=compound.community_id,
            username=f"volunteer-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=Role.VOLUNTEER,
            actor="test",
            display_name="值班员",
        )
    return user.username


def _gate_page_csrf(client: Any) -> str:
    page = client.get("/gate")
    assert page.status_code == 200
    found = CSRF_META.search(page.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def _item(compound: Compound) -> dict[str, Any]:
    body = scan_body(
        compound.residents[0].pass_text, Direction.OUT, NORMAL, scanned_at=compound.clock()
    )
    verdict = {
        "allowed": True,
        "code": None,
        "codes": [],
        "notes": [],
        "rule_version": compound.rules.version,
    }
    return {
        "format": "checkpoint.crossing.v1",
        **body,
        "override": None,
        "latency_ms": None,
        "verdict": verdict,
    }


def _batch(item: dict[str, Any]) -> dict[str, Any]:
    return {"format": "checkpoint.batch.v1", "crossings": [item]}


def test_an_upload_from_a_page_whose_login_is_gone_is_a_401_and_is_kept_for_later(
    compound: Compound,
) -> None:
    username = _volunteer(compound)
    phone = compound.client()
    assert log_in(phone, username, PASSWORD).status_code == 302
    csrf = _gate_page_csrf(phone)
    item = _item(compound)

    restarted = compound.client()  # the browser restarted: no session cookie, the old page
    headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
    lost = restarted.post(BATCH, json=_batch(item), headers=headers)
    assert lost.status_code == 401
    assert lost.get_json()["error"]["code"] == "login_required"
    scan = restarted.post("/gate/scan", json={"id": item["id"]}, headers=headers)
    assert scan.status_code == 401
    assert scan.get_json()["error"]["code"] == "login_required"
    bundle = restarted.get("/gate/bundle", headers={"Accept": "application/json"})
    assert bundle.status_code == 401
    assert compound.crossing_count() == 0

    assert log_in(restarted, username, PASSWORD).status_code == 302
    fresh = {"X-CSRFToken": _gate_page_csrf(restarted)}
    stored = restarted.post(BATCH, json=_batch(item), headers=fresh)
    assert stored.status_code == 200, stored.get_json()
    assert [r["status"] for r in stored.get_json()["results"]] == ["stored"]
    assert compound.crossing_count() == 1


def test_a_logged_in_page_without_its_csrf_token_is_still_a_csrf_400(compound: Compound) -> None:
    username = _volunteer(compound)
    phone = compound.client()
    assert log_in(phone, username, PASSWORD).status_code == 302
    _gate_page_csrf(phone)
    item = _item(compound)
    stale = phone.post(BATCH, json=_batch(item), headers={"X-CSRFToken": "not-the-token"})
    assert stale.status_code == 400
    assert stale.get_json()["error"]["code"] == "csrf"
    missing = phone.post("/gate/scan", json={"id": item["id"]})
    assert missing.status_code == 400
    assert missing.get_json()["error"]["code"] == "csrf"
    assert compound.crossing_count() == 0


def test_a_form_post_without_a_session_still_goes_to_the_login_page(compound: Compound) -> None:
    answer = compound.client().post("/gate/choose", data={"gate_id": "1"})
    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]
