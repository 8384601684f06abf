"""Phones used as gates are seen by the office, on SQLite and PostgreSQL: the page's bundle
fetches and uploads carry its own random id and unsent count (``X-Checkpoint-Phone``,
``X-Checkpoint-Backlog``); the server keeps one row per (community, phone) written at most
once a minute unless something changed; bad header values are ignored, never an error; and
``/devices`` lists each phone under its gate with its backlog and state."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_helpers import NORMAL, Compound, build_compound, scan_body
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select
from web_helpers import CSRF_META, log_in
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.accounts.operations import create_user, find_user
from gate.db import transaction
from gate.devices.models import PhoneGate
from passes import Direction

PASSWORD = "correct horse battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    """The scan API's compound: 2 households with passes, one gate, one scanner."""
    built = build_compound(db_url, tmp_path, households=2)
    try:
        yield built
    finally:
        built.dispose()


@dataclass
class Phone:
    """A logged-in browser that has opened /gate, with its own phone id."""

    client: FlaskClient
    csrf: str
    user_id: int
    phone_id: str

    def headers(self, backlog: object = None, phone: object = None) -> dict[str, str]:
        sent = {"X-Checkpoint-Phone": str(self.phone_id if phone is None else phone)}
        if backlog is not None:
            sent["X-Checkpoint-Backlog"] = str(backlog)
        return sent

    def bundle(self, backlog: object = None, phone: object = None) -> TestResponse:
        return self.client.get("/gate/bundle", headers=self.headers(backlog, phone))

    def upload(self, items: list[Any], backlog: object, gate: int) -> TestResponse:
        body = {"format": "checkpoint.batch.v1", "crossings": items}
        headers = {"X-CSRFToken": self.csrf, **self.headers(backlog)}
        return self.client.post(f"/gate/crossings/batch?gate={gate}", json=body, headers=headers)


def _user(compound: Compound, role: Role, name: str) -> str:
    with transaction(compound.sessions) as session:
        user = create_user(
            session,
            community_id=compound.community_id,
            username=f"{role.value}-{secrets.token_hex(4)}",
            password=PASSWORD,
            role=role,
            actor="test",
            display_name=name,
        )
        return user.username


def _phone(compound: Compound, name: str = "王值班") -> Phone:
    username = _user(compound, Role.VOLUNTEER, name)
    client = compound.client()
    assert log_in(client, username, PASSWORD).status_code == 302
    page = client.get("/gate")
    assert page.status_code == 200
    found = CSRF_META.search(page.get_data(as_text=True))
    assert found is not None
    with transaction(compound.sessions, read_only=True) as session:
        user = find_user(session, username)
        assert user is not None
        user_id = user.id
    return Phone(client, found.group(1), user_id, str(uuid.uuid4()))


def _rows(compound: Compound) -> list[tuple[Any, ...]]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(select(PhoneGate).order_by(PhoneGate.phone_id)).all()
        return [
            (r.community_id, r.phone_id, r.gate_id, r.user_id, r.last_seen_at, r.last_backlog)
            for r in rows
        ]


@dataclass
class Writes:
    """The statements that wrote the phones' table."""

    statements: list[str]


@pytest.fixture
def phone_writes(compound: Compound) -> Iterator[Writes]:
    seen = Writes([])

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "phone_gates" in statement and not statement.lstrip().upper().startswith("SELECT"):
            seen.statements.append(statement)

    event.listen(compound.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(compound.engine, "before_cursor_execute", note)


def _offline_item(compound: Compound) -> dict[str, Any]:
    body = scan_body(
        compound.residents[0].pass_text, Direction.OUT, NORMAL, scanned_at=compound.clock()
    )
    verdict = {"allowed": True, "code": None, "codes": [], "notes": []}
    verdict["rule_version"] = compound.rules.version
    return {
        "format": "checkpoint.crossing.v1",
        **body,
        "override": None,
        "latency_ms": None,
        "verdict": verdict,
    }


def test_a_bundle_fetch_records_the_phone_its_gate_volunteer_and_backlog(
    compound: Compound, phone_writes: Writes
) -> None:
    phone = _phone(compound)
    assert phone.bundle(backlog=3).status_code == 200
    assert _rows(compound) == [
        (
            compound.community_id,
            phone.phone_id,
            compound.gate_id,
            phone.user_id,
            compound.clock(),
            3,
        )
    ]
    assert len(phone_writes.statements) == 1  # one upsert


def test_the_bundle_is_fetched_often_but_written_once_a_minute_unless_something_changed(
    compound: Compound, phone_writes: Writes
) -> None:
    phone = _phone(compound)
    first = compound.clock()
    phone.bundle(backlog=0)
    compound.clock.advance(seconds=30)
    etag = phone.bundle(backlog=0).headers["ETag"]
    cached = phone.client.get(
        "/gate/bundle", headers={"If-None-Match": etag, **phone.headers(backlog=0)}
    )
    assert cached.status_code == 304
    assert len(phone_writes.statements) == 1
    assert _rows(compound)[0][4:] == (first, 0)

    phone.bundle(backlog=2)  # changed: written at once
    assert _rows(compound)[0][4:] == (compound.clock(), 2)
    assert len(phone_writes.statements) == 2
    compound.clock.advance(seconds=61)  # a minute on: written again
    phone.bundle(backlog=2)
    assert _rows(compound)[0][4:] == (compound.clock(), 2)
    assert len(phone_writes.statements) == 3


@pytest.mark.parametrize(
    ("phone_id", "backlog"),
    [
        ("not-a-uuid", 1),
        ("", 1),
        ("{12345678-1234-5678-1234-567812345678}", 1),
        ("12345678123456781234567812345678", 1),
        ("１２345678-1234-5678-1234-567812345678", 1),
    ],
)
def test_a_phone_id_that_is_not_a_uuid_is_ignored_never_an_error(
    compound: Compound, phone_id: str, backlog: int
) -> None:
    phone = _phone(compound)
    assert phone.bundle(backlog=backlog, phone=phone_id).status_code == 200
    assert _rows(compound) == []


@pytest.mark.parametrize("backlog", ["-1", "1000001", "1e3", "12a", " 5", "", "９"])
def test_a_bad_backlog_is_ignored_and_the_one_on_record_kept(
    compound: Compound, backlog: str
) -> None:
    phone = _phone(compound)
    phone.bundle(backlog=7)
    compound.clock.advance(minutes=2)
    assert phone.bundle(backlog=backlog).status_code == 200
    assert _rows(compound)[0][4:] == (compound.clock(), 7)


def test_the_largest_backlog_and_an_upper_case_id_are_taken(compound: Compound) -> None:
    phone = _phone(compound)
    phone.bundle(backlog=1_000_000, phone=phone.phone_id.upper())
    assert _rows(compound)[0][1] == phone.phone_id
    assert _rows(compound)[0][5] == 1_000_000


def test_an_upload_records_the_phone_at_the_uploads_gate(
    compound: Compound, phone_writes: Writes
) -> None:
    phone = _phone(compound)
    answer = phone.upload([_offline_item(compound)], backlog=1, gate=compound.gate_id)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["results"][0]["status"] == "stored"
    assert _rows(compound) == [
        (
            compound.community_id,
            phone.phone_id,
            compound.gate_id,
            phone.user_id,
            compound.clock(),
            1,
        )
    ]
    assert compound.crossing_count() == 1
    refused = phone.upload([], backlog=4, gate=compound.gate_id + 1000)
    assert refused.status_code == 409  # no gate of this community: nothing recorded
    assert _rows(compound)[0][5] == 1


def test_a_phone_that_changed_hands_is_the_new_volunteers(compound: Compound) -> None:
    first = _phone(compound, "甲")
    first.bundle(backlog=0)
    second = _phone(compound, "乙")
    second.phone_id = first.phone_id  # the same phone, the next shift logged in
    second.bundle(backlog=0)
    assert [row[3] for row in _rows(compound)] == [second.user_id]


# --- /devices ----------------------------------------------------------------------------------


def _office(compound: Compound) -> FlaskClient:
    client = compound.client()
    assert log_in(client, _user(compound, Role.OFFICE, "办公室"), PASSWORD).status_code == 302
    return client


def _phone_rows(html: str) -> dict[str, str]:
    return {
        found.group(1): found.group(0)
        for found in re.finditer(
            r'<tr class="phone-gate" data-phone="([0-9a-f-]{36})">.*?</tr>', html, re.S
        )
    }


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_the_devices_page_lists_each_phone_under_its_gate_with_backlog_and_state(
    compound: Compound,
) -> None:
    office = _office(compound)
    working = _phone(compound, "王值班")
    working.bundle(backlog=0)
    holding = _phone(compound, "李值班")
    holding.bundle(backlog=5)
    gone = _phone(compound, "张值班")
    gone.bundle(backlog=0)
    compound.clock.advance(minutes=20)
    working.bundle(backlog=0)
    html = office.get("/devices").get_data(as_text=True)
    rows = _phone_rows(html)
    section = html[html.index(f'id="gate-{compound.gate_id}"') :]
    assert all(section.index(f'data-phone="{p}"') > 0 for p in rows)
    assert set(rows) == {working.phone_id, holding.phone_id, gone.phone_id}
    states = {p: re.findall(r'data-state="(\w+)"', row) for p, row in rows.items()}
    assert states == {
        working.phone_id: ["normal"],
        holding.phone_id: ["unsent"],
        gone.phone_id: ["offline"],
    }
    holding_cells = _cells(rows[holding.phone_id])
    assert "李值班" in holding_cells[0]
    assert holding_cells[2] == "5"
    assert "王值班" in _cells(rows[working.phone_id])[0]


def test_a_phone_with_unsent_crossings_is_normal_while_it_calls_and_not_listed_after_30_days(
    compound: Compound,
) -> None:
    office = _office(compound)
    phone = _phone(compound)
    phone.bundle(backlog=2)
    compound.clock.advance(minutes=1)
    html = office.get("/devices").get_data(as_text=True)
    assert 'data-state="normal"' in _phone_rows(html)[phone.phone_id]  # uploading now
    compound.clock.advance(minutes=5)
    html = office.get("/devices").get_data(as_text=True)
    assert 'data-state="unsent"' in _phone_rows(html)[phone.phone_id]
    compound.clock.advance(days=30)
    assert _phone_rows(office.get("/devices").get_data(as_text=True)) == {}


def test_the_dashboard_lists_the_phones_with_the_scanners(compound: Compound) -> None:
    office = _office(compound)
    holding = _phone(compound, "李值班")
    holding.bundle(backlog=3)
    compound.clock.advance(minutes=6)
    html = office.get("/").get_data(as_text=True)
    row = _phone_rows(html[html.index('id="scanners"') :])[holding.phone_id]
    cells = _cells(row)
    assert "李值班" in cells[1]
    assert cells[3] == "3"
    assert 'data-state="unsent"' in row
