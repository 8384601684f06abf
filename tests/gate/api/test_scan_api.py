"""The scan API over HTTP, on SQLite and PostgreSQL: enrolment, the verdicts a gate sees,
device revocation, bad input (never a 500) and the offline bundle.

Decisions use the server's clock (``Services.clock``); these tests drive a fake one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from api_helpers import (
    Compound,
    assert_chain_intact,
    build_compound,
    json_text,
    local,
    personal_needles,
    statement_log,
    verdict_of,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

import gate.issuing.verified_passes as pass_checking
import passes
from gate.crossings.models import Crossing
from gate.db import make_engine, transaction
from gate.devices.models import Device
from gate.devices.operations import revoke_device
from gate.households.models import Household
from gate.issuing.operations import current_pass, issue_pass, revoke_pass
from passes import Direction, HouseholdStatus, SigningKey, format_utc, parse_pass

OUT, IN = Direction.OUT, Direction.IN


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    """A compound of 8 households with passes and one enrolled scanner, clock at START."""
    built = build_compound(db_url, tmp_path)
    try:
        yield built
    finally:
        built.dispose()


def _household(session: Session, compound: Compound, index: int) -> Household:
    return session.get_one(Household, compound.residents[index].household_id)


def test_enrolment_code_works_once_and_unknown_codes_are_refused(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        gate = session.get_one(Device, compound.device_id).gate
        from gate.devices.operations import create_device

        new = create_device(session, gate=gate, name="备用机", actor="test", now=compound.clock())
    client = compound.client()
    first = client.post("/api/v1/devices/enroll", json={"code": new.enrolment_code.lower()})
    again = client.post("/api/v1/devices/enroll", json={"code": new.enrolment_code})
    unknown = client.post("/api/v1/devices/enroll", json={"code": "ABCDE-FGHJK"})
    assert first.status_code == 201
    assert first.get_json()["gate"]["id"] == compound.gate_id
    assert first.get_json()["community"]["timezone"] == "Asia/Shanghai"
    assert (again.status_code, again.get_json()["error"]["code"]) == (403, "bad_enrolment_code")
    assert unknown.status_code == 403
    token = first.get_json()["token"]
    bundle = client.get("/api/v1/bundle", headers=compound.headers(token))
    assert bundle.status_code == 200


def test_the_outing_cycle_follows_the_rules_at_the_servers_time(compound: Compound) -> None:
    client = compound.client()
    card = compound.residents[0].pass_text

    exit_ = verdict_of(compound.scan(client, card, OUT))
    assert exit_["allowed"] is True
    assert exit_["display"] == "allow"

    second = verdict_of(compound.scan(client, card, OUT))
    assert (second["allowed"], second["code"]) == (False, "already_out")

    compound.clock.advance(hours=2)
    entry = verdict_of(compound.scan(client, card, IN))
    assert entry["allowed"] is True
    assert entry["notes"] == []

    compound.clock.advance(hours=1)
    again = compound.scan(client, card, OUT)
    quota = verdict_of(again)
    # Out on the 22nd (local): the next outing is from local midnight starting the 25th.
    expected = format_utc(local(2026, 11, 25))
    assert expected == "2026-11-24T16:00:00Z"
    assert (quota["allowed"], quota["code"], quota["codes"]) == (False, "quota", ["quota"])
    assert quota["next_exit_at"] == expected
    assert again.get_json()["next_exit_at"] == expected

    compound.clock.set(local(2026, 11, 24, 23, 59))
    assert verdict_of(compound.scan(client, card, OUT))["code"] == "quota"
    compound.clock.set(local(2026, 11, 25, 0, 0))
    assert verdict_of(compound.scan(client, card, OUT))["allowed"] is True


def test_fever_is_refused_in_both_directions_and_bad_readings_ask_to_remeasure(
    compound: Compound,
) -> None:
    client = compound.client()
    card = compound.residents[1].pass_text
    out = verdict_of(compound.scan(client, card, OUT, 373))
    entry = verdict_of(compound.scan(client, card, IN, 380))
    sensor = verdict_of(compound.scan(client, card, OUT, 500))
    missing = verdict_of(compound.scan(client, card, OUT, None))
    assert (out["allowed"], out["code"], out["display"]) == (False, "fever", "refuse")
    assert (entry["allowed"], entry["code"]) == (False, "fever")
    assert (sensor["code"], sensor["display"]) == ("sensor_error", "remeasure")
    assert (missing["code"], missing["display"]) == ("no_temperature", "remeasure")
    assert verdict_of(compound.scan(client, card, OUT, 372))["allowed"] is True


def test_quarantine_refuses_exit_allows_entry_and_ends_by_itself(compound: Compound) -> None:
    until = local(2026, 11, 27)
    with transaction(compound.sessions) as session:
        row = _household(session, compound, 2)
        row.status = HouseholdStatus.QUARANTINED
        row.quarantine_until = until
    client = compound.client()
    card = compound.residents[2].pass_text
    out = verdict_of(compound.scan(client, card, OUT))
    entry = verdict_of(compound.scan(client, card, IN))
    assert (out["allowed"], out["code"]) == (False, "quarantined")
    assert out["next_exit_at"] == format_utc(until)
    assert entry["allowed"] is True
    assert entry["notes"] == ["entry_without_exit"]
    compound.clock.set(until)
    assert verdict_of(compound.scan(client, card, OUT))["allowed"] is True


def test_revoked_pass_is_refused(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        record = current_pass(session, _household(session, compound, 3))
        assert record is not None
        revoke_pass(session, record, actor="office", reason="卡丢失", now=compound.clock())
    verdict = verdict_of(compound.scan(compound.client(), compound.residents[3].pass_text, OUT))
    assert (verdict["allowed"], verdict["code"]) == (False, "revoked")


def test_reissue_kills_the_old_card_and_the_new_one_works(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        row = _household(session, compound, 4)
        new_text = issue_pass(
            session, row, actor="office", now=compound.clock() - timedelta(minutes=5), reissue=True
        ).text
    client = compound.client()
    old = verdict_of(compound.scan(client, compound.residents[4].pass_text, OUT))
    new = verdict_of(compound.scan(client, new_text, OUT))
    assert (old["allowed"], old["code"]) == (False, "superseded")
    assert new["allowed"] is True


def test_forged_pass_is_refused_before_any_household_pass_or_crossing_query(
    compound: Compound,
) -> None:
    genuine = parse_pass(compound.residents[5].pass_text).fields
    forged = SigningKey.generate(genuine.key_id).sign(genuine)  # same shape, someone else's key
    client = compound.client()
    verify = passes.verify_pass
    seen_before_verify: list[list[str]] = []

    for _attempt in range(2):  # cold and warm community context cache
        with statement_log(compound.engine) as statements:

            def spy(*args: Any, _log: list[str] = statements, **kwargs: Any) -> Any:
                seen_before_verify.append(list(_log))
                return verify(*args, **kwargs)

            with mock.patch.object(pass_checking, "verify_pass", spy):
                response = compound.scan(client, forged, OUT)
        verdict = verdict_of(response)
        assert (verdict["allowed"], verdict["code"]) == (False, "bad_signature")
        assert response.get_json()["household_label"] is None

    personal = re.compile(r"\b(households|members|passes|crossings)\b", re.IGNORECASE)
    cold, warm = seen_before_verify
    for statements in (cold, warm):
        touched = [s for s in statements if personal.search(s)]
        assert touched == [], touched
    # Warm: only the device's authentication and the lookup of its gate come first.
    tables = {t for s in warm for t in re.findall(r"\b(?:FROM|UPDATE|INTO)\s+(\w+)", s)}
    assert tables <= {"devices", "gates"}, warm
    queries = [s for s in warm if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert len(queries) <= 4, queries  # auth: SELECT + UPDATE devices; then device and gate
    with transaction(compound.sessions, read_only=True) as session:
        stored = session.scalars(select(Crossing).where(Crossing.code == "bad_signature")).all()
    assert [(c.household_id, c.pass_id, c.allowed) for c in stored] == [(None, None, False)] * 2


def test_revoked_device_gets_401(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        device = session.get_one(Device, compound.device_id)
        revoke_device(session, device, actor="office", reason="丢失", now=compound.clock())
    client = compound.client()
    scan = compound.scan(client, compound.residents[0].pass_text, OUT)
    bundle = client.get("/api/v1/bundle", headers=compound.headers())
    batch = compound.upload(client, [])
    for response in (scan, bundle, batch):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "device_revoked"
    nobody = client.post("/api/v1/scans", json={})
    wrong = compound.scan(client, compound.residents[0].pass_text, OUT, token="x" * 43)
    assert nobody.get_json()["error"]["code"] == wrong.get_json()["error"]["code"] == "bad_token"
    assert compound.crossing_count() == 0


def _good(compound: Compound, **changes: Any) -> dict[str, Any]:
    body = {
        "id": "6f1f8f66-3f5a-4c53-9d43-7d1c9b0c2a11",
        "pass": compound.residents[0].pass_text,
        "direction": "out",
        "temperature": 365,
        "scanned_at": format_utc(compound.clock()),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("missing id", {"id": ...}, "id"),
    ("id not a uuid", {"id": "123"}, "id"),
    ("missing pass", {"pass": ...}, "pass"),
    ("pass not text", {"pass": 12}, "pass"),
    ("oversize pass", {"pass": "HC1:" + "A" * 5000}, "pass"),
    ("direction", {"direction": "sideways"}, "direction"),
    ("naive time", {"scanned_at": "2026-11-22T09:00:00"}, "scanned_at"),
    ("time far off", {"scanned_at": "2000-01-01T00:00:00Z"}, "scanned_at"),
    ("time overflow", {"scanned_at": "9999-12-31T23:59:59-01:00"}, "scanned_at"),
    ("latency", {"latency_ms": -1}, "latency_ms"),
    ("override", {"override": {"supervisor": "王"}}, "override"),
    ("NUL in operator", {"operator": "a\x00b"}, "operator"),
    ("lone surrogate", {"operator": "\ud800"}, "operator"),
]


def test_bad_fields_are_422_naming_the_field(compound: Compound) -> None:
    client = compound.client()
    for case, changes, field in BAD_FIELDS:
        body = _good(compound, **changes)
        response = client.post("/api/v1/scans", json=body, headers=compound.headers())
        assert response.status_code == 422, case
        error = response.get_json()["error"]
        assert error["code"] == "invalid_field", case
        assert error["message"].startswith(field), (case, error)
    assert compound.crossing_count() == 0


UNREADABLE: list[tuple[str, bytes, str, int]] = [
    ("broken", b"{not json", "application/json", 400),
    ("not a JSON type", b'{"id": 1}', "text/plain", 400),
    ("null", b"null", "application/json", 400),
    ("array", b"[1, 2]", "application/json", 422),
    ("deep", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ("not UTF-8", b"\xff\xfe", "application/json", 400),
]


def test_unreadable_bodies_are_4xx_json(compound: Compound) -> None:
    client = compound.client()
    for case, data, content_type, status in UNREADABLE:
        for path in ("/api/v1/scans", "/api/v1/crossings/batch", "/api/v1/devices/enroll"):
            headers = {} if path.endswith("enroll") else compound.headers()
            response = client.post(path, data=data, content_type=content_type, headers=headers)
            assert response.status_code == status, (case, path, response.get_json())
            assert response.get_json()["error"]["code"] in {"bad_json", "invalid_field"}


def test_odd_backlog_header_is_ignored_not_a_500(compound: Compound) -> None:
    client = compound.client()
    for backlog in ("²", "9" * 40, "-3", "12"):
        response = client.get(
            "/api/v1/bundle", headers={**compound.headers(), "X-Checkpoint-Backlog": backlog}
        )
        assert response.status_code == 200
    with transaction(compound.sessions, read_only=True) as session:
        assert session.get_one(Device, compound.device_id).last_backlog == 12


NASTY_TEXT = st.sampled_from(
    [
        "",
        "\x00",
        "\ud800",
        "²",
        "out",
        "in",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "2026-11-22T01:00:00Z",
        "6f1f8f66-3f5a-4c53-9d43-7d1c9b0c2a11",
        "HC1:" + "0" * 10,
    ]
)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | NASTY_TEXT
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
SCAN_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "id": st.uuids().map(str) | JSON_VALUES,
        "pass": JSON_VALUES,
        "direction": st.sampled_from(["in", "out"]) | JSON_VALUES,
        "temperature": st.integers(300, 450) | JSON_VALUES,
        "scanned_at": NASTY_TEXT | JSON_VALUES,
        "operator": JSON_VALUES,
        "override": st.fixed_dictionaries({"supervisor": JSON_VALUES, "reason": JSON_VALUES})
        | JSON_VALUES,
        "latency_ms": JSON_VALUES,
        "verdict": st.fixed_dictionaries(
            {"allowed": st.booleans(), "rule_version": st.integers(0, 3)},
            optional={"code": JSON_VALUES, "codes": JSON_VALUES, "notes": JSON_VALUES},
        )
        | JSON_VALUES,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scan=SCAN_SHAPED | JSON_VALUES,
    batch=st.fixed_dictionaries({"crossings": st.lists(SCAN_SHAPED | JSON_VALUES, max_size=5)})
    | JSON_VALUES,
)
def test_random_json_never_causes_a_500(compound: Compound, scan: object, batch: object) -> None:
    client = compound.client()
    headers = compound.headers()
    for path, body in (("/api/v1/scans", scan), ("/api/v1/crossings/batch", batch)):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code < 500, (path, body, response.get_data(as_text=True))
        answer = response.get_json()
        assert isinstance(answer, dict)
        if response.status_code >= 400:
            assert set(answer["error"]) == {"code", "message"}


def test_bundle_has_no_personal_data_and_answers_304_when_unchanged(compound: Compound) -> None:
    client = compound.client()
    verdict_of(compound.scan(client, compound.residents[0].pass_text, OUT))
    first = client.get("/api/v1/bundle", headers=compound.headers())
    assert first.status_code == 200
    body = first.get_json()
    # The household code (building-unit-room, printed on the card) is the one exception,
    # in its own field: the offline verdict shows it. Nothing else of a household is there.
    codes = body.pop("household_codes")
    assert codes == {str(r.household_id): r.code for r in compound.residents}
    text = json_text(body)
    leaked = [needle for needle in personal_needles(compound.residents) if needle in text]
    assert leaked == []
    personal = [
        item
        for r in compound.residents
        for item in (*r.member_names, *r.member_phones, *r.id_numbers, r.phone)
    ]
    assert not [item for item in personal if item in first.get_data(as_text=True)]
    states = {h["household_id"]: h for h in body["households"]}
    assert set(states) == {r.household_id for r in compound.residents}
    assert len(states[compound.residents[0].household_id]["out_since"]) == 1
    assert body["keys"]
    assert "private" not in text.lower()

    etag = first.headers["ETag"]
    compound.clock.advance(minutes=1)  # generated_at changes; the content does not
    unchanged = client.get("/api/v1/bundle", headers={**compound.headers(), "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""

    verdict_of(compound.scan(client, compound.residents[0].pass_text, IN))
    changed = client.get("/api/v1/bundle", headers={**compound.headers(), "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_a_scan_after_the_database_dropped_the_servers_connection_is_answered(
    compound: Compound, db_backend: str
) -> None:
    """The connection is lost under the request (not idle long enough to be pinged): the
    scan runs again on a fresh connection, and is stored once."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has no server that could drop a connection")
    client = compound.client()
    card = compound.residents[0].pass_text
    assert verdict_of(compound.scan(client, card, OUT))["allowed"] is True
    with compound.engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    killer = make_engine(compound.engine.url)
    try:
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()
    entry = compound.scan(client, card, IN)
    assert entry.status_code == 200
    assert verdict_of(entry)["allowed"] is True
    assert compound.crossing_count() == 2
    assert_chain_intact(compound)
