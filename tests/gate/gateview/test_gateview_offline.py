"""The phone gate's offline routes on SQLite and PostgreSQL: the bundle for a logged-in gate
user (the scanner API's, with its ETag), the upload of crossings decided offline (the scanner
API's per-item results, idempotent by client id, judged by the household timeline), and the
installable app's service worker, manifest and page policy."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_helpers import NORMAL, Compound, build_compound, json_text, personal_needles, scan_body
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from web_helpers import CSRF_META, log_in
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.supervisors.operations import issue_supervisor_card
from passes import Direction

PASSWORD = "correct horse battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    """The scan API's compound: 4 households with passes, one gate (南门), one scanner."""
    built = build_compound(db_url, tmp_path, households=4)
    try:
        yield built
    finally:
        built.dispose()


@dataclass
class Phone:
    """A logged-in browser that has opened /gate."""

    client: FlaskClient
    csrf: str
    user_id: int

    def upload(
        self, items: list[Any], *, gate: int | None = None, csrf: bool = True
    ) -> TestResponse:
        path = "/gate/crossings/batch" + ("" if gate is None else f"?gate={gate}")
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        body = {"format": "checkpoint.batch.v1", "crossings": items}
        return self.client.post(path, json=body, headers=headers)


def _phone(compound: Compound, role: Role = Role.VOLUNTEER) -> Phone:
    with transaction(compound.sessions) as session:
        user = create_user(
            session,
            community_id=compound.community_id,
            username=f"{role.value}-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=role,
            actor="test",
            display_name="值班员",
        )
    client = compound.client()
    assert log_in(client, user.username, PASSWORD).status_code == 302
    page = client.get("/gate")
    assert page.status_code == 200
    found = CSRF_META.search(page.get_data(as_text=True))
    assert found is not None
    return Phone(client, found.group(1), user.id)


def _offline_item(
    compound: Compound, resident: int, direction: Direction, *, allowed: bool, code: str | None
) -> dict[str, Any]:
    body = scan_body(
        compound.residents[resident].pass_text, direction, NORMAL, scanned_at=compound.clock()
    )
    verdict = {
        "allowed": allowed,
        "code": code,
        "codes": [] if code is None else [code],
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


def test_the_bundle_is_the_scanners_with_its_etag_and_nothing_personal(
    compound: Compound,
) -> None:
    phone = _phone(compound)
    first = phone.client.get("/gate/bundle")
    assert first.status_code == 200
    body = first.get_json()
    assert body["format"] == "checkpoint.bundle.v1"
    assert body["community"]["id"] == compound.community_id
    assert len(body["households"]) == len(compound.residents)
    assert first.headers["ETag"].strip('"') == body["content_hash"]
    scanner = compound.client().get("/api/v1/bundle", headers=compound.headers())
    assert scanner.get_json()["content_hash"] == body["content_hash"]  # the same bundle
    # As the scanner's: the household code (printed on the card) in its own field only.
    codes = body.pop("household_codes")
    assert codes == {str(r.household_id): r.code for r in compound.residents}
    text = json_text(body)
    assert not [n for n in personal_needles(compound.residents) if n in text]
    unchanged = phone.client.get("/gate/bundle", headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304


def test_the_bundle_needs_a_gate_login(compound: Compound) -> None:
    anonymous = compound.client().get("/gate/bundle")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]
    auditor = _phone_of_role_without_gate(compound, Role.AUDITOR)
    assert auditor.get("/gate/bundle").status_code == 403


def _phone_of_role_without_gate(compound: Compound, role: Role) -> FlaskClient:
    with transaction(compound.sessions) as session:
        user = create_user(
            session,
            community_id=compound.community_id,
            username=f"{role.value}-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=role,
            actor="test",
        )
    client = compound.client()
    assert log_in(client, user.username, PASSWORD).status_code == 302
    return client


def test_an_upload_stores_each_crossing_once_with_per_item_results(compound: Compound) -> None:
    phone = _phone(compound)
    out = _offline_item(compound, 0, Direction.OUT, allowed=True, code=None)
    compound.clock.advance(minutes=1)
    # The phone let the same household out again: the server's timeline says already out.
    again = _offline_item(compound, 0, Direction.OUT, allowed=True, code=None)
    broken = {**_offline_item(compound, 1, Direction.IN, allowed=True, code=None)}
    broken["direction"] = "sideways"
    answer = phone.upload([out, again, broken])
    assert answer.status_code == 200, answer.get_json()
    results = answer.get_json()["results"]
    assert answer.get_json()["format"] == "checkpoint.batch-result.v1"
    assert [r["status"] for r in results] == ["stored", "stored", "rejected"]
    assert [r["conflict"] for r in results[:2]] == [False, True]
    assert results[1]["conflict_code"] == "already_out"
    assert results[2]["error"]["code"] == "invalid_field"

    replay = phone.upload([out, again])  # the network dropped the first answer
    assert [r["status"] for r in replay.get_json()["results"]] == ["duplicate", "duplicate"]
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(select(Crossing).order_by(Crossing.id)).all()
    assert len(rows) == 3
    assert [(r.offline, r.user_id, r.gate_id, r.device_id) for r in rows[:2]] == [
        (True, phone.user_id, compound.gate_id, None)
    ] * 2
    assert rows[2].rejected


def test_an_upload_needs_the_csrf_header_and_a_gate_of_the_community(
    compound: Compound,
) -> None:
    phone = _phone(compound)
    item = _offline_item(compound, 0, Direction.OUT, allowed=True, code=None)
    assert phone.upload([item], csrf=False).status_code == 400
    unknown_gate = phone.upload([item], gate=compound.gate_id + 1000)
    assert unknown_gate.status_code == 409
    assert unknown_gate.get_json()["error"]["code"] == "no_gate"
    assert compound.crossing_count() == 0
    assert phone.upload([item], gate=compound.gate_id).status_code == 200
    assert compound.crossing_count() == 1


def test_an_upload_that_is_not_a_batch_is_refused_whole(compound: Compound) -> None:
    phone = _phone(compound)
    answer = phone.client.post(
        "/gate/crossings/batch", json={"crossings": "no"}, headers={"X-CSRFToken": phone.csrf}
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "invalid_field"
    assert compound.crossing_count() == 0


def test_the_app_is_installable_with_a_worker_for_the_gate_scope(compound: Compound) -> None:
    client = compound.client()
    worker = client.get("/gate/sw.js")
    assert worker.status_code == 200
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/gate"
    assert b"checkpoint-gate-" in worker.get_data()
    worker.close()
    manifest = client.get("/gate/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    app = manifest.get_json()
    assert (app["start_url"], app["scope"], app["display"]) == ("/gate", "/gate", "standalone")
    for path in (
        *(icon["src"] for icon in app["icons"]),
        "/static/vendor/zxing-wasm/zxing_reader.wasm",
        "/static/vendor/zxing-wasm/zxing_reader.js",
        "/static/vendor/zxing-wasm/LICENSE",
    ):
        response = client.get(path)
        response.close()
        assert response.status_code == 200, path


def test_the_gate_page_may_compile_its_webassembly_decoder_and_nothing_else(
    compound: Compound,
) -> None:
    phone = _phone(compound)
    page = phone.client.get("/gate")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy
    assert "'unsafe-eval'" not in policy.replace("'wasm-unsafe-eval'", "")
    assert "'unsafe-inline'" not in policy
    html = page.get_data(as_text=True)
    for path in ("/gate/manifest.webmanifest", "/static/vendor/zxing-wasm/zxing_reader.js"):
        assert path in html
    login = compound.client().get("/login")
    assert "wasm" not in login.headers["Content-Security-Policy"]


def _supervisor_card(compound: Compound) -> str:
    """A supervisor card (its QR text) of a new supervisor of the compound's community."""
    with transaction(compound.sessions) as session:
        user = create_user(
            session,
            community_id=compound.community_id,
            username=f"supervisor-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=Role.SUPERVISOR,
            actor="test",
            display_name="王主任",
        )
        issued = issue_supervisor_card(
            session,
            community_id=compound.community_id,
            username=user.username,
            actor="test",
            now=compound.clock(),
        )
        return issued.text


def test_a_volunteer_lets_a_refusal_through_with_a_supervisors_card(compound: Compound) -> None:
    """The card is the credential: a volunteer's phone may override with it, online."""
    phone = _phone(compound)
    card = _supervisor_card(compound)
    out = {"pass": compound.residents[0].pass_text, "direction": "out", "temperature": NORMAL}
    headers = {"X-CSRFToken": phone.csrf}
    first = phone.client.post("/gate/scan", json={"id": str(uuid.uuid4()), **out}, headers=headers)
    assert first.get_json()["verdict"]["allowed"] is True
    again = {"id": str(uuid.uuid4()), **out}
    refused = phone.client.post("/gate/scan", json=again, headers=headers)
    assert refused.get_json()["verdict"]["code"] == "already_out"

    without_card = {**again, "id": str(uuid.uuid4()), "override": {"reason": "就医"}}
    assert phone.client.post("/gate/scan", json=without_card, headers=headers).status_code == 403
    no_reason = {**again, "id": str(uuid.uuid4()), "override": {"reason": " ", "card": card}}
    assert phone.client.post("/gate/scan", json=no_reason, headers=headers).status_code == 422

    let_through = {**again, "id": str(uuid.uuid4()), "override": {"reason": "就医", "card": card}}
    answer = phone.client.post("/gate/scan", json=let_through, headers=headers).get_json()
    assert answer["verdict"]["allowed"] is True
    assert "override" in answer["verdict"]["notes"]
    with transaction(compound.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing).where(Crossing.client_id == answer["id"])).one()
    assert row.override_supervisor.startswith("王主任（主管卡 ")  # the holder, by the card
    assert row.override_reason == "就医"
    assert row.override_card_id is not None

    forged = card[:-6] + ("A" if card[-6] != "A" else "B") + card[-5:]
    bad = {**again, "id": str(uuid.uuid4()), "override": {"reason": "就医", "card": forged}}
    answer = phone.client.post("/gate/scan", json=bad, headers=headers).get_json()
    assert answer["verdict"]["allowed"] is False
    assert answer["verdict"]["code"] == "already_out"
    assert answer["verdict"]["notes"] == ["override_refused", "supervisor_card_invalid"]
    assert answer["reason"] == "主管卡无效，不能放行"
