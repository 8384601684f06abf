"""The gate view in the browser (/gate) on SQLite and PostgreSQL: it decides exactly like the
scanner API, needs a gate role and the CSRF header, takes manual card codes of its own
community only, and lets supervisors (only) override a refusal with a reason."""

from __future__ import annotations

import secrets
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import NORMAL, Compound, add_residents, build_compound, verdict_of
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from web_helpers import CSRF_META, log_in
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from gate.accounts.models import Role, User
from gate.accounts.operations import create_user
from gate.community.models import Community
from gate.crossings.models import Crossing
from gate.db import make_engine, transaction
from gate.devices.models import Gate
from gate.households.models import Household
from gate.issuing.manual_codes import normalize_manual_code
from gate.issuing.operations import current_pass
from gate.signing.operations import create_signing_key
from passes import Direction

OUT, IN = Direction.OUT, Direction.IN


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    """The scan API's compound: 4 households with passes, one gate (南门), one scanner."""
    built = build_compound(db_url, tmp_path, households=4)
    try:
        yield built
    finally:
        built.dispose()


@dataclass
class GateUser:
    """A logged-in browser on the gate view."""

    client: FlaskClient
    csrf: str
    user_id: int

    def post(self, path: str, body: dict[str, Any], *, csrf: bool = True) -> TestResponse:
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.post(path, json=body, headers=headers)

    def scan(
        self, pass_text: str, direction: Direction, temperature: object = NORMAL, **extra: Any
    ) -> TestResponse:
        body = {
            "id": str(uuid.uuid4()),
            "pass": pass_text,
            "direction": str(direction),
            "temperature": temperature,
            **extra,
        }
        return self.post("/gate/scan", body)

    def manual(self, code: str, direction: Direction, temperature: object = NORMAL) -> TestResponse:
        body = {
            "id": str(uuid.uuid4()),
            "code": code,
            "direction": str(direction),
            "temperature": temperature,
        }
        return self.post("/gate/manual", body)


PASSWORD = "correct horse battery"


def _user(compound: Compound, role: Role) -> User:
    with transaction(compound.sessions) as session:
        return create_user(
            session,
            community_id=compound.community_id,
            username=f"{role.value}-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=role,
            actor="test",
            display_name=f"{role.value}值班员",
        )


def _logged_in(compound: Compound, user: User) -> FlaskClient:
    client = compound.client()
    answer = log_in(client, user.username, PASSWORD)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def csrf_from(html: str) -> str:
    found = CSRF_META.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _open_gate(compound: Compound, role: Role = Role.VOLUNTEER) -> GateUser:
    user = _user(compound, role)
    client = _logged_in(compound, user)
    page = client.get("/gate")
    assert page.status_code == 200, page.status_code
    return GateUser(client, csrf_from(page.get_data(as_text=True)), user.id)


def _codes(response: TestResponse) -> tuple[bool, str | None, str]:
    verdict = verdict_of(response)
    return verdict["allowed"], verdict["code"], verdict["display"]


def test_the_gate_page_is_for_gate_roles_only(compound: Compound) -> None:
    for role in (Role.VOLUNTEER, Role.SUPERVISOR, Role.OFFICE, Role.ADMIN):
        _open_gate(compound, role)
    anonymous = compound.client().get("/gate")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]
    auditor = _logged_in(compound, _user(compound, Role.AUDITOR))
    assert auditor.get("/gate").status_code == 403
    assert auditor.post("/gate/scan", json={}).status_code in (400, 403)  # CSRF, then role


def test_the_gate_page_has_no_inline_code_and_loads_the_decoder(compound: Compound) -> None:
    gate = _open_gate(compound)
    html = gate.client.get("/gate").get_data(as_text=True)
    assert "/static/vendor/jsqr/jsQR.js" in html
    assert "/static/js/gate.js" in html
    assert 'data-temperature-required="1"' in html
    assert 'data-can-override="0"' in html
    assert "<script>" not in html
    assert " style=" not in html
    assert " onclick=" not in html
    for asset in ("js/gate.js", "js/resident.js", "css/gate.css", "vendor/jsqr/jsQR.js"):
        response = compound.client().get(f"/static/{asset}")
        response.close()  # a file response: close it, or the open file leaks
        assert response.status_code == 200


def test_a_scan_without_the_csrf_header_is_refused_and_not_recorded(compound: Compound) -> None:
    gate = _open_gate(compound)
    body = {"id": str(uuid.uuid4()), "pass": compound.residents[0].pass_text, "direction": "out"}
    response = gate.post("/gate/scan", {**body, "temperature": NORMAL}, csrf=False)
    assert response.status_code == 400
    assert compound.crossing_count() == 0


def test_the_browser_decides_like_the_scanner_api(compound: Compound) -> None:
    gate = _open_gate(compound)
    api = compound.client()
    by_browser, by_api = compound.residents[0].pass_text, compound.residents[1].pass_text
    steps: list[tuple[Direction, object, float]] = [
        (OUT, NORMAL, 0),  # allowed
        (OUT, NORMAL, 0.1),  # already out (and quota)
        (IN, NORMAL, 2),  # home again
        (OUT, NORMAL, 0.1),  # quota: one outing per three days
        (IN, 380, 0.1),  # fever, in either direction
        (OUT, None, 0.1),  # no temperature: re-measure
        (OUT, "36.5", 0.1),  # not tenths: sensor error
    ]
    seen = []
    for direction, temperature, hours in steps:
        compound.clock.advance(hours=hours)
        browser = _codes(gate.scan(by_browser, direction, temperature))
        scanner = _codes(compound.scan(api, by_api, direction, temperature))
        assert browser == scanner
        seen.append(browser)
    assert [code for _allowed, code, _display in seen] == [
        None,
        "already_out",
        None,
        "quota",
        "fever",
        "no_temperature",
        "sensor_error",
    ]
    assert [display for *_rest, display in seen][-2:] == ["remeasure", "remeasure"]


def test_a_browser_crossing_names_the_user_and_the_chosen_gate(compound: Compound) -> None:
    gate = _open_gate(compound)
    answer = gate.scan(compound.residents[0].pass_text, OUT).get_json()
    assert answer["household_label"].startswith(compound.residents[0].code)
    assert answer["next_exit_local"] == "11-25 00:00"
    assert answer["reason"] == answer["verdict"]["reason_zh"]
    with transaction(compound.sessions, read_only=True) as session:
        crossing = session.scalars(select(Crossing)).one()
    assert crossing.user_id == gate.user_id
    assert crossing.device_id is None
    assert crossing.gate_id == compound.gate_id
    assert crossing.operator == "volunteer值班员"
    replay = gate.post(
        "/gate/scan",
        {
            "id": crossing.client_id,
            "pass": compound.residents[0].pass_text,
            "direction": "out",
            "temperature": NORMAL,
        },
    ).get_json()
    assert replay["replay"] is True
    assert compound.crossing_count() == 1


def _manual_code(compound: Compound, index: int) -> str:
    with transaction(compound.sessions, read_only=True) as session:
        household = session.get_one(Household, compound.residents[index].household_id)
        record = current_pass(session, household)
        assert record is not None
        assert record.manual_code is not None
        return record.manual_code


def test_a_typed_manual_code_decides_with_the_cards_pass(compound: Compound) -> None:
    gate = _open_gate(compound)
    code = _manual_code(compound, 0)
    typed = code.lower().replace("-", " ")
    assert _codes(gate.manual(typed, OUT)) == (True, None, "allow")
    assert _codes(gate.manual(code, OUT))[1] == "already_out"
    unknown = gate.manual("ZZZZ-ZZZZ", OUT)
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "unknown_manual_code"
    assert gate.manual("not a code", OUT).status_code == 404


def test_a_manual_code_of_another_community_is_not_found(compound: Compound) -> None:
    other_id = compound.community_id + 1
    with transaction(compound.sessions) as session:
        other = Community(id=other_id, name="别的小区", code=f"c{other_id}")
        session.add(other)
        session.flush()
        create_signing_key(
            session,
            community_id=other_id,
            keys_dir=compound.settings.keys_dir,
            actor="test",
            now=compound.clock() - timedelta(days=1),
        )
        foreign = add_residents(session, other, 1, now=compound.clock())[0]
        record = current_pass(session, session.get_one(Household, foreign.household_id))
        assert record is not None
        assert record.manual_code is not None
        code = record.manual_code
    gate = _open_gate(compound)
    response = gate.manual(code, OUT)
    assert response.status_code == 404
    assert compound.crossing_count() == 0
    assert _codes(gate.scan(foreign.pass_text, OUT))[1] == "unknown_key"  # not our keys


def test_only_a_supervisor_may_override_a_refusal_and_it_is_recorded(compound: Compound) -> None:
    card = compound.residents[0].pass_text
    volunteer = _open_gate(compound)
    supervisor = _open_gate(compound, Role.SUPERVISOR)
    assert 'data-can-override="1"' in supervisor.client.get("/gate").get_data(as_text=True)
    assert _codes(volunteer.scan(card, OUT))[0]
    assert _codes(volunteer.scan(card, OUT))[1] == "already_out"
    override = {"override": {"supervisor": "冒名", "reason": "就医"}}
    refused = volunteer.scan(card, OUT, **override)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "override_not_allowed"
    empty = supervisor.scan(card, OUT, override={"reason": "  "})
    assert empty.status_code == 422
    allowed = supervisor.scan(card, OUT, **override).get_json()
    assert allowed["verdict"]["allowed"] is True
    assert allowed["verdict"]["code"] == "already_out"
    assert "override" in allowed["verdict"]["notes"]
    with transaction(compound.sessions, read_only=True) as session:
        last = session.scalars(select(Crossing).order_by(Crossing.id.desc()).limit(1)).one()
    assert (last.override_supervisor, last.override_reason) == ("supervisor值班员", "就医")
    assert last.user_id == supervisor.user_id


def test_with_several_gates_the_user_chooses_one_first(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        north = Gate(community_id=compound.community_id, name="北门", code="north")
        session.add(north)
        session.flush()
        north_id = north.id
    client = _logged_in(compound, _user(compound, Role.VOLUNTEER))
    chooser = client.get("/gate").get_data(as_text=True)
    assert "北门" in chooser
    assert "南门" in chooser
    csrf = csrf_from(chooser)
    body = {
        "id": str(uuid.uuid4()),
        "pass": compound.residents[0].pass_text,
        "direction": "out",
        "temperature": NORMAL,
    }
    early = client.post("/gate/scan", json=body, headers={"X-CSRFToken": csrf})
    assert early.status_code == 409
    assert client.post("/gate/choose", data={"gate_id": str(north_id)}).status_code == 400
    chosen = client.post("/gate/choose", data={"gate_id": str(north_id), "csrf_token": csrf})
    assert chosen.status_code == 302
    page = client.get("/gate").get_data(as_text=True)
    assert "北门" in page
    assert 'id="camera"' in page
    answer = client.post("/gate/scan", json=body, headers={"X-CSRFToken": csrf_from(page)})
    assert answer.status_code == 200
    with transaction(compound.sessions, read_only=True) as session:
        assert session.scalars(select(Crossing.gate_id)).one() == north_id


def test_bad_bodies_are_4xx_never_500(compound: Compound) -> None:
    gate = _open_gate(compound)
    headers = {"X-CSRFToken": gate.csrf}
    assert gate.client.post("/gate/scan", data="x", headers=headers).status_code == 400
    assert gate.post("/gate/scan", {"pass": "CP1:x", "direction": "up"}).status_code == 422
    garbage = gate.scan("hello", OUT)
    assert _codes(garbage)[1] == "bad_format"


def test_a_gate_view_scan_after_the_database_dropped_the_connection_is_answered(
    compound: Compound, db_backend: str
) -> None:
    """The same one retry as the scanner API: a lost connection runs the scan again on a
    fresh one, and it is stored once."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has no server that could drop a connection")
    gate = _open_gate(compound)
    card = compound.residents[0].pass_text
    assert _codes(gate.scan(card, OUT))[0] is True
    with compound.engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    killer = make_engine(compound.engine.url)
    try:
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()
    entry = gate.scan(card, IN)
    assert entry.status_code == 200, entry.get_json()
    assert _codes(entry)[0] is True
    assert compound.crossing_count() == 2


def test_refusals_of_the_gate_view_carry_a_code_and_a_message_from_the_catalogue(
    compound: Compound,
) -> None:
    """The page shows ``error.message``: it is a gettext message (here the English one), never
    the API's field-level English text."""
    gate = _open_gate(compound)
    assert gate.client.get("/lang/en").status_code in {200, 302}
    card = compound.residents[0].pass_text
    empty = gate.scan(card, OUT, override={"reason": "  "})
    assert empty.get_json()["error"] == {
        "code": "override_not_allowed",
        "message": "Only a supervisor may let a refused person through.",
    }
    odd = gate.post("/gate/scan", {"pass": "CP1:x", "direction": "up"})
    assert odd.status_code == 422
    assert odd.get_json()["error"]["message"] == (
        "The scan could not be read: reload the page and scan again."
    )
    not_json = gate.client.post("/gate/scan", data="x", headers={"X-CSRFToken": gate.csrf})
    assert not_json.get_json()["error"]["code"] == "bad_json"


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("k7qm-2xpa", "K7QM-2XPA"),
        (" K7QM 2XPA ", "K7QM-2XPA"),
        ("K7QM2XPA", "K7QM-2XPA"),
        ("k7qm-2xp0", "K7QM-2XPO"),  # a zero is the letter O on a worn card
        ("K7QM-2XP", None),
        ("K7QM-2XPA9", None),
        ("K7QM-2XP!", None),
        (None, None),
    ],
)
def test_manual_codes_are_read_forgivingly_but_exactly(
    typed: object, normalized: str | None
) -> None:
    assert normalize_manual_code(typed) == normalized


@pytest.fixture
def live_gate(compound: Compound) -> Iterator[str]:
    """The compound's app served on a loopback port (for the browser test)."""
    server = make_server("127.0.0.1", 0, compound.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _note_console_error(message: Any, problems: list[str]) -> None:
    # A missing favicon is the foundation's business, not the gate view's.
    if message.type == "error" and not message.location.get("url", "").endswith("favicon.ico"):
        problems.append(message.text)


@pytest.mark.browser
def test_the_page_runs_in_chromium_under_the_csp(compound: Compound, live_gate: str) -> None:
    """Log in, type a card code and a temperature, see green until 下一位 is pressed, and
    return to scanning; the browser reports no CSP violation or script error on the way."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine")
    user = _user(compound, Role.VOLUNTEER)
    code = _manual_code(compound, 0)
    problems: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        try:
            page = browser.new_page()
            page.on("console", lambda message: _note_console_error(message, problems))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{live_gate}/login")
            page.fill("input[name=username]", user.username)
            page.fill("input[name=password]", PASSWORD)
            page.press("input[name=password]", "Enter")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(f"{live_gate}/gate")
            page.click("#manual-open")
            page.fill("#manual-code", code.lower())
            page.click("#manual-form button[type=submit]")
            for key in ("3", "6", ".", "5"):
                page.click(f'.key[data-key="{key}"]')
            assert page.text_content("#temp-display") == "36.5"
            page.click('.key[data-key="ok"]')
            page.wait_for_selector("#verdict.verdict-allow", state="visible", timeout=5000)
            assert page.text_content("#verdict-label").startswith(compound.residents[0].code)
            page.wait_for_timeout(3500)  # the verdict stays until the next person
            assert page.is_visible("#verdict.verdict-allow")
            page.click("#verdict-done")
            page.wait_for_selector("#verdict", state="hidden", timeout=2000)
            assert page.text_content("#temp-display") == "--.-"
            # The service worker keeps the page's files offline: let its requests finish
            # before the browser goes, or their server threads die holding a file or a
            # database connection.
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert compound.crossing_count() == 1
    assert problems == []


def test_a_gate_view_retry_replays_and_another_users_id_is_refused(compound: Compound) -> None:
    card = compound.residents[1].pass_text
    volunteer, supervisor = _open_gate(compound), _open_gate(compound, Role.SUPERVISOR)
    body = {"id": str(uuid.uuid4()), "pass": card, "direction": "out", "temperature": NORMAL}
    first = volunteer.post("/gate/scan", body)
    compound.clock.advance(seconds=30)  # the server stamps the time: a retry still matches
    again = volunteer.post("/gate/scan", body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.get_json()["replay"], again.get_json()["replay"]) == (False, True)
    reused = supervisor.post("/gate/scan", {**body, "direction": "in"})
    assert reused.status_code == 409
    assert set(reused.get_json()) == {"error"}
    assert reused.get_json()["error"]["code"] == "id_reuse"
    assert compound.crossing_count() == 1
