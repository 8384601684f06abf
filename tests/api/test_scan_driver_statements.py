"""The scan's statements sent on psycopg's own cursor (``gate.db.DriverStatement``: the
device check, the locking read and the insert): the same rows as SQLAlchemy's
``Connection.execute``, and the same errors (a client id taken by a concurrent scan is
SQLAlchemy's ``IntegrityError``, which the scan API retries; a connection lost under the
statement is invalidated, so the retry gets a new one). SQLite, and an engine with event
listeners, keep the plain path: checked on both backends."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gate"))  # api_helpers

from api_helpers import Compound, assert_chain_intact, build_compound, verdict_of

from gate.crossings import persistence
from gate.crossings.chain import ChainHead
from gate.db import DriverStatement, make_engine, transaction
from passes import parse_pass


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=4)
    try:
        yield built
    finally:
        built.dispose()


def _lock_params(compound: Compound, resident: int = 0) -> dict[str, Any]:
    fields = parse_pass(compound.residents[resident].pass_text).fields
    now = compound.clock()
    return {
        "household_id": fields.household_id,
        "community_id": compound.community_id,
        "pass_id": fields.pass_id,
        "client_id": str(uuid.uuid4()),
        "gate_id": compound.gate_id,
        "scanned_at": now - timedelta(minutes=1),
        "decided_at": now,
    }


def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DriverStatement, "form", lambda self, connection: None)


def test_the_locking_read_gives_the_plain_paths_row(
    compound: Compound, monkeypatch: pytest.MonkeyPatch, db_backend: str
) -> None:
    params = _lock_params(compound)
    with transaction(compound.sessions) as session:
        on_driver = persistence._LOCK_ON_DRIVER.form(session.connection()) is not None
        driver = persistence.lock_household_and_gate(session, **params)
    assert on_driver is (db_backend == "postgresql")
    with monkeypatch.context() as patched:
        _plain(patched)
        with transaction(compound.sessions) as session:
            plain = persistence.lock_household_and_gate(session, **params)
    assert driver is not None
    assert plain is not None
    assert tuple(driver) == tuple(plain)
    assert driver._fields == tuple(plain._fields)
    assert [type(value) for value in driver] == [type(value) for value in plain]
    assert type(driver.status) is type(plain.status)  # the enum, not its text
    missing = {**params, "household_id": 1}
    with transaction(compound.sessions) as session:
        assert persistence.lock_household_and_gate(session, **missing) is None


def test_scans_store_the_same_crossings_on_either_path(
    compound: Compound, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = compound.client()
    card = compound.residents[1].pass_text
    assert verdict_of(compound.scan(client, card, "out"))["allowed"] is True
    with monkeypatch.context() as patched:
        _plain(patched)
        refused = verdict_of(compound.scan(client, card, "out"))
        assert refused["code"] == "already_out"
    assert verdict_of(compound.scan(client, card, "in"))["allowed"] is True
    assert compound.crossing_count() == 3
    assert assert_chain_intact(compound) == 3


def test_a_client_id_taken_meanwhile_is_sqlalchemys_integrity_error(
    compound: Compound, db_backend: str
) -> None:
    params = _lock_params(compound)
    values = {
        "client_id": params["client_id"],
        "community_id": compound.community_id,
        "gate_id": compound.gate_id,
        "direction": "out",
        "scanned_at": params["scanned_at"],
        "recorded_at": params["decided_at"],
        "allowed": False,
        "codes": "",
        "flags": "",
        "rule_version": 1,
        "offline": False,
        "conflict": False,
        "rejected": False,
        "shift_id": None,
    }
    with transaction(compound.sessions) as session:
        persistence.insert_crossing(session, values, None, None)
    with transaction(compound.sessions) as session:
        locked = persistence.lock_household_and_gate(session, **params)
        assert locked is not None
        assert locked.replay_of is not None
        head = ChainHead(compound.gate_id, locked.chain_seq, locked.chain_hash)
        with pytest.raises(IntegrityError):
            persistence.insert_crossing(session, values, head, None)
        session.rollback()
    assert compound.crossing_count() == 1


def test_a_connection_lost_under_the_locking_read_is_invalidated(
    compound: Compound, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite has no server that could drop a connection")
    killer = make_engine(compound.engine.url)
    try:
        with compound.sessions() as session:
            pid = session.connection().scalar(text("SELECT pg_backend_pid()"))
            with killer.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            params = _lock_params(compound)
            with pytest.raises(DBAPIError) as raised:
                persistence.lock_household_and_gate(session, **params)
            session.rollback()
    finally:
        killer.dispose()
    assert raised.value.connection_invalidated
    client = compound.client()  # the pool hands out a live connection again
    assert verdict_of(compound.scan(client, compound.residents[2].pass_text, "out"))["allowed"]


def test_an_engine_with_statement_listeners_sees_the_scans_statements(
    compound: Compound,
) -> None:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    event.listen(compound.engine, "before_cursor_execute", record)
    try:
        verdict_of(compound.scan(compound.client(), compound.residents[3].pass_text, "out"))
    finally:
        event.remove(compound.engine, "before_cursor_execute", record)
    assert any("FOR UPDATE" in s or "FROM households" in s for s in seen), seen
    assert any(s.lstrip().startswith(("INSERT", "WITH")) for s in seen), seen
