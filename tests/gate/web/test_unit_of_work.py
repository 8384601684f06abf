"""The unit of work: one session and one commit per request or CLI job; read-only units
never write and, on SQLite, never take the write lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, stream_with_context
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.audit.operations import record_event
from gate.db import make_engine, session_factory
from gate.migrations import upgrade
from gate.services import EXTENSION_KEY, Services
from gate.settings import Settings
from gate.unit_of_work import ReadOnlyUnitError, UnitOfWork, after_commit
from gate.web.unit_of_work import configure_unit_of_work, db_session, request_unit, writes


def _events(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _event(session: Session, action: str = "test.write") -> None:
    record_event(session, actor="test", action=action)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.sqlite3'}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_writing_unit_commits_once_and_runs_its_callbacks_after_the_commit(
    committed_engine: Engine,
) -> None:
    seen: list[int] = []
    with UnitOfWork(session_factory(committed_engine), writes=True) as unit:
        _event(unit.session)
        after_commit(unit.session, lambda: seen.append(_events(committed_engine)))
        assert seen == []
    assert seen == [1]
    assert _events(committed_engine) == 1


def test_a_failed_unit_writes_nothing_and_runs_no_callback(committed_engine: Engine) -> None:
    seen: list[str] = []

    def fail() -> None:
        with UnitOfWork(session_factory(committed_engine), writes=True) as unit:
            _event(unit.session)
            unit.after_commit(lambda: seen.append("ran"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    assert seen == []
    assert _events(committed_engine) == 0


def test_a_read_only_unit_refuses_to_write(committed_engine: Engine) -> None:
    with UnitOfWork(session_factory(committed_engine), writes=False) as unit:
        _event(unit.session)
        with pytest.raises(ReadOnlyUnitError):
            unit.session.flush()
        unit.rollback()
    assert _events(committed_engine) == 0


def test_a_read_only_unit_on_sqlite_does_not_hold_the_write_lock(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with UnitOfWork(session_factory(sqlite_engine), writes=False) as unit:
        assert _events(sqlite_engine) == 0  # another connection reads
        unit.session.scalar(select(func.count()).select_from(AuditEvent))  # a read is open
        # While the read transaction is open, another connection takes the write lock at
        # once (a DEFERRED begin holds no lock; BEGIN IMMEDIATE here would wait 5 s).
        writer = sqlite3.connect(tmp_path / "uow.sqlite3", timeout=0.5, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("ROLLBACK")
        finally:
            writer.close()


def _app(engine: Engine, tmp_path: Path) -> Flask:
    app = Flask(__name__)
    settings = Settings.from_env(
        {"CHECKPOINT_ENV": "test", "CHECKPOINT_INSTANCE_DIR": str(tmp_path / "instance")}
    )
    app.extensions[EXTENSION_KEY] = Services(settings, engine, session_factory(engine))
    configure_unit_of_work(app)

    @app.post("/write")
    @writes
    def write() -> tuple[str, int]:
        _event(db_session())
        return "ok", 200

    @app.post("/write-then-refuse")
    @writes
    def write_then_refuse() -> tuple[str, int]:
        _event(db_session())
        return "refused", 422

    @app.post("/undeclared")
    def undeclared() -> tuple[str, int]:
        _event(db_session())
        db_session().flush()
        return "ok", 200

    @app.get("/stream")
    def stream() -> Response:
        def rows() -> Iterator[str]:
            for _ in range(3):
                yield f"{db_session().scalar(select(func.count()).select_from(AuditEvent))}\n"

        return Response(stream_with_context(rows()), mimetype="text/plain")

    @app.post("/retry")
    @writes(retry=True)
    def retry() -> str:
        attempts.append(request_unit().writes)
        _event(db_session(), action=f"test.attempt{len(attempts)}")
        if len(attempts) == 1:
            from sqlalchemy.exc import IntegrityError

            raise IntegrityError("INSERT", {}, Exception("lost the race"))
        return "ok"

    attempts: list[bool] = []
    return app


def test_a_request_commits_after_a_successful_response_only(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    client = _app(sqlite_engine, tmp_path).test_client()
    assert client.post("/write").status_code == 200
    assert _events(sqlite_engine) == 1
    assert client.post("/write-then-refuse").status_code == 422
    assert _events(sqlite_engine) == 1


def test_a_request_not_declared_writing_cannot_write(sqlite_engine: Engine, tmp_path: Path) -> None:
    app = _app(sqlite_engine, tmp_path)
    app.testing = True
    with pytest.raises(ReadOnlyUnitError):
        app.test_client().post("/undeclared")
    assert _events(sqlite_engine) == 0


def test_a_streamed_read_keeps_its_session_until_the_stream_ends(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    client = _app(sqlite_engine, tmp_path).test_client()
    client.post("/write")
    assert client.get("/stream").get_data(as_text=True) == "1\n1\n1\n"


def test_a_retrying_view_runs_again_on_a_fresh_unit_and_keeps_only_the_second_run(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    client = _app(sqlite_engine, tmp_path).test_client()
    assert client.post("/retry").status_code == 200
    with Session(sqlite_engine) as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions == ["test.attempt2"]


def test_concurrent_read_only_requests_do_not_block_a_writer(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    app = _app(sqlite_engine, tmp_path)
    started, release = threading.Event(), threading.Event()

    @app.get("/slow-read")
    def slow_read() -> str:
        db_session().scalar(select(func.count()).select_from(AuditEvent))
        started.set()
        release.wait(10)
        return "read"

    reader = threading.Thread(target=lambda: app.test_client().get("/slow-read"))
    reader.start()
    try:
        assert started.wait(10)
        assert app.test_client().post("/write").status_code == 200
    finally:
        release.set()
        reader.join(10)
    assert _events(sqlite_engine) == 1


def test_write_first_commits_a_small_write_and_the_unit_goes_on_read_only(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with UnitOfWork(session_factory(sqlite_engine), writes=False) as unit:
        unit.session.scalar(select(func.count()).select_from(AuditEvent))
        unit.write_first(_event)
        assert _events(sqlite_engine) == 1  # committed, seen by another connection
        writer = sqlite3.connect(tmp_path / "uow.sqlite3", timeout=0.5, isolation_level=None)
        try:  # the unit reads on without holding the write lock
            assert unit.session.scalar(select(func.count()).select_from(AuditEvent)) == 1
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("ROLLBACK")
        finally:
            writer.close()
        _event(unit.session)
        with pytest.raises(ReadOnlyUnitError):
            unit.session.flush()
        unit.rollback()
    assert _events(sqlite_engine) == 1
