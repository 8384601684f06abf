"""A rules dry run never stalls the gate (issue #10).

On SQLite, with a real file database and a real threaded HTTP server: an office clerk starts
a dry run over 30,000 crossings and, while it runs, a scanner keeps posting scans to
``/api/v1/scans``. Every scan is answered in under a second and scans are answered *during*
the dry run, not queued behind it: the dry run is a read-only unit of work, so it never takes
SQLite's write lock.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import ACTOR, Compound, build_compound, scan_body
from sqlalchemy import insert, select
from werkzeug.serving import BaseWSGIServer, make_server

import gate.console.rules as rules_views
from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.devices.models import Gate
from gate.migrations import upgrade
from gate.rules.dryrun import DryRunResult
from passes import Direction

CROSSINGS = 30_000
SCAN_DEADLINE_S = 1.0
MIN_SCANS_DURING_DRY_RUN = 3
PASSWORD = "dry-run-office-pw-7"


@pytest.fixture
def compound(tmp_path: Path) -> Iterator[Compound]:
    url = f"sqlite:///{tmp_path / 'gate.sqlite3'}"
    upgrade(url)
    compound = build_compound(url, tmp_path, households=8)
    compound.app.config["WTF_CSRF_ENABLED"] = False
    try:
        yield compound
    finally:
        compound.dispose()


@pytest.fixture
def server(compound: Compound) -> Iterator[str]:
    httpd: BaseWSGIServer = make_server("127.0.0.1", 0, compound.app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def seed_crossings(compound: Compound, count: int) -> None:
    """``count`` allowed crossings of the compound's households over the last 7 days, on a
    gate of their own (the scanner's hash chain stays untouched). Bulk Core insert."""
    now = compound.clock()
    with transaction(compound.sessions) as session:
        gate = Gate(community_id=compound.community_id, name="旧门", code="old")
        session.add(gate)
        session.flush()
        gate_id = gate.id
        create_user(
            session,
            community_id=compound.community_id,
            username="clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor=ACTOR,
        )
    residents = compound.residents
    step = timedelta(days=7) / count
    start = now - timedelta(days=7)
    rows: list[dict[str, Any]] = []
    for index in range(count):
        household = residents[index % len(residents)].household_id
        rows.append(
            {
                "client_id": str(uuid.uuid4()),
                "community_id": compound.community_id,
                "gate_id": gate_id,
                "household_id": household,
                "direction": Direction.OUT if (index // len(residents)) % 2 == 0 else Direction.IN,
                "scanned_at": start + step * index,
                "recorded_at": start + step * index,
                "temperature_tenths": 365,
                "allowed": True,
                "codes": "",
                "flags": "",
                "rule_version": compound.rules.version,
                "gate_seq": index + 1,
                "prev_hash": "0" * 64,
                "row_hash": "0" * 64,
            }
        )
    with compound.engine.begin() as connection:
        connection.execute(insert(Crossing), rows)


def test_scans_are_answered_within_a_second_while_a_dry_run_replays_30000_crossings(
    compound: Compound, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_crossings(compound, CROSSINGS)
    replaying = threading.Event()
    real_dry_run = rules_views.dry_run

    def observed_dry_run(*args: Any, **kwargs: Any) -> DryRunResult:
        replaying.set()
        return real_dry_run(*args, **kwargs)

    monkeypatch.setattr(rules_views, "dry_run", observed_dry_run)

    office = httpx.Client(base_url=server, timeout=120)
    login = office.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert login.status_code == 302, login.text[:500]
    strict = compound.rules.to_dict()
    strict["exit_hours"] = {"start": "06:00", "end": "07:00"}
    answer: dict[str, Any] = {}

    def run_dry_run() -> None:
        response = office.post(
            "/rules/dryrun",
            data={"rules_json": json.dumps(strict), "days": "7", "action": "dryrun"},
        )
        answer["status"], answer["html"] = response.status_code, response.text
        answer["finished"] = time.monotonic()

    scanner = httpx.Client(base_url=server, timeout=10, headers=compound.headers())
    warm_up = scan_body(compound.residents[0].pass_text, Direction.IN, scanned_at=compound.clock())
    assert scanner.post("/api/v1/scans", json=warm_up).status_code == 200  # caches, pool

    dry_run_thread = threading.Thread(target=run_dry_run)
    dry_run_thread.start()
    assert replaying.wait(timeout=60), "the dry run never started"

    latencies: list[float] = []
    answered_at: list[float] = []
    direction = Direction.OUT
    while dry_run_thread.is_alive() or len(latencies) < MIN_SCANS_DURING_DRY_RUN:
        resident = compound.residents[len(latencies) % len(compound.residents)]
        body = scan_body(resident.pass_text, direction, scanned_at=compound.clock())
        began = time.monotonic()
        response = scanner.post("/api/v1/scans", json=body)
        latencies.append(time.monotonic() - began)
        answered_at.append(time.monotonic())
        assert response.status_code == 200, response.text
        if len(latencies) % len(compound.residents) == 0:
            direction = Direction.IN if direction is Direction.OUT else Direction.OUT
        if len(latencies) > 2_000:
            break
    dry_run_thread.join(timeout=120)

    assert answer.get("status") == 200, answer.get("html", "")[:500]
    assert 'id="dry-run"' in answer["html"]
    assert str(CROSSINGS) in answer["html"]  # every seeded crossing was replayed
    during = [at for at in answered_at if at < answer["finished"]]
    assert len(during) >= MIN_SCANS_DURING_DRY_RUN, (len(during), latencies)
    assert max(latencies) < SCAN_DEADLINE_S, sorted(latencies)[-5:]


def test_saving_rules_on_the_page_writes_one_audit_event_and_refreshes_the_cache_after_commit(
    compound: Compound,
) -> None:
    seed_crossings(compound, 10)  # also creates the office user
    client = compound.app.test_client()
    assert (
        client.post("/login", data={"username": "clerk", "password": PASSWORD}).status_code == 302
    )
    contexts = compound.services.contexts
    with transaction(compound.sessions, read_only=True) as session:
        assert contexts.get(session, compound.community_id).rules.version == 1
    changed = compound.rules.to_dict()
    changed["max_outside_minutes"] = 90

    dry = client.post("/rules/dryrun", data={"rules_json": json.dumps(changed), "days": "7"})
    saved = client.post("/rules", data={"rules_json": json.dumps(changed), "reason": "限时"})

    assert dry.status_code == 200
    assert saved.status_code == 302
    with transaction(compound.sessions, read_only=True) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("rules."))
        ).all()
        assert [(e.action, e.subject_id, e.actor) for e in events] == [("rules.save", "2", "clerk")]
        assert contexts.get(session, compound.community_id).rules.version == 2


def test_a_dry_run_button_posted_to_the_save_route_saves_nothing(compound: Compound) -> None:
    seed_crossings(compound, 10)
    client = compound.app.test_client()
    client.post("/login", data={"username": "clerk", "password": PASSWORD})
    changed = compound.rules.to_dict()
    changed["max_outside_minutes"] = 90

    answer = client.post("/rules", data={"rules_json": json.dumps(changed), "action": "dryrun"})

    assert answer.status_code == 307
    assert answer.headers["Location"].endswith("/rules/dryrun")
    with transaction(compound.sessions, read_only=True) as session:
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == "rules.save")).all() == []
        )
