"""The phone gate with per-person counting, on SQLite and PostgreSQL: the page shows the people
stepper only when the rules count people; an online scan carries the count, which the crossing
stores and the quota counts; an offline crossing uploaded with its count is stored with it."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import NORMAL, Compound, add_console_users, build_compound, console_client, local
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from web_helpers import CSRF_META, log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.crossings.models import Crossing
from gate.db import transaction
from passes import CountKind, Quota, RuleSet

PASSWORD = "correct horse battery"


def _compound(db_url: str, tmp_path: Path, count: CountKind) -> Compound:
    rules = RuleSet(version=1, quota=Quota(exits=2, length=1), max_out_at_once=3, count=count)
    built = build_compound(db_url, tmp_path, households=1, rules=rules)
    built.clock.set(local(2026, 12, 5, 9))
    return built


@pytest.fixture
def counting(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = _compound(db_url, tmp_path / "p", CountKind.PEOPLE)
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture
def households(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = _compound(db_url, tmp_path / "h", CountKind.HOUSEHOLDS)
    try:
        yield built
    finally:
        built.dispose()


def _gate(compound: Compound) -> tuple[FlaskClient, str, str]:
    username = f"vol-{secrets.token_hex(4)}"
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username=username,
            password=PASSWORD,
            role=Role.VOLUNTEER,
            actor="test",
            display_name="志愿者",
        )
    client = compound.client()
    assert log_in(client, username, PASSWORD).status_code == 302
    html = client.get("/gate").get_data(as_text=True)
    found = CSRF_META.search(html)
    assert found
    return client, found.group(1), html


def _scan(client: FlaskClient, csrf: str, pass_text: str, **extra: Any) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "pass": pass_text, "direction": "out", "temperature": NORMAL}
    answer = client.post("/gate/scan", json={**body, **extra}, headers={"X-CSRFToken": csrf})
    assert answer.status_code == 200, answer.get_json()
    verdict: dict[str, Any] = answer.get_json()["verdict"]
    return verdict


def test_the_stepper_shows_only_when_the_rules_count_people(
    counting: Compound, households: Compound
) -> None:
    assert 'id="people"' in _gate(counting)[2]
    assert 'src="/static/js/gate-people.js"' in _gate(counting)[2]
    assert 'id="people"' not in _gate(households)[2]


def test_an_online_scan_carries_the_count_and_the_quota_counts_people(counting: Compound) -> None:
    client, csrf, _html = _gate(counting)
    pass_text = counting.residents[0].pass_text
    assert _scan(client, csrf, pass_text, people=2)["allowed"] is True
    refused = _scan(client, csrf, pass_text)
    assert refused["code"] == "quota"  # 2 of 2 used by the first group
    with transaction(counting.sessions, read_only=True) as session:
        assert list(session.scalars(select(Crossing.people).order_by(Crossing.id))) == [2, 1]


def test_an_offline_crossing_keeps_its_count(counting: Compound) -> None:
    item = {
        "format": "checkpoint.crossing.v1",
        "id": str(uuid.uuid4()),
        "pass": counting.residents[0].pass_text,
        "direction": "out",
        "temperature": NORMAL,
        "scanned_at": "2026-12-05T00:30:00Z",
        "operator": "志愿者",
        "override": None,
        "latency_ms": None,
        "people": 3,
        "verdict": {
            "allowed": True,
            "code": None,
            "codes": [],
            "notes": [],
            "rule_version": 1,
        },
    }
    answer = counting.upload(counting.client(), [item])
    assert answer.status_code == 200, answer.get_json()
    with transaction(counting.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing)).one()
        assert (row.people, row.conflict, row.conflict_code) == (3, True, "quota")


def test_the_log_and_the_export_show_the_count(counting: Compound) -> None:
    client, csrf, _html = _gate(counting)
    _scan(client, csrf, counting.residents[0].pass_text, people=2)
    add_console_users(counting, PASSWORD, [("office1", Role.OFFICE, "李文员")])
    office = console_client(counting, "office1", PASSWORD)
    assert 'data-people="2"' in office.get("/log").get_data(as_text=True)
    exported = office.get("/log/export", query_string={"fmt": "csv"}).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert rows[1][rows[0].index("人数")] == "2"
