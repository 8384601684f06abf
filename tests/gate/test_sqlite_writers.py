"""The SQLite writer queue (gate.db.SQLiteWriters): writing transactions take their turn in
arrival order within a process and through an ``flock`` between processes, end it with their
transaction, and never wait past the busy timeout; read-only transactions take no turn."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

import gate.db
from gate.db import SQLiteWriters, make_engine, session_factory, transaction


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "gate.sqlite3"


@pytest.fixture
def engine(database: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        connection.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")
    yield engine
    engine.dispose()


def _free(writers: SQLiteWriters) -> bool:
    """Whether a turn is free now (taken and given back at once)."""
    if writers.acquire(0.0):
        writers.release()
        return True
    return False


def test_a_writing_transaction_holds_the_turn_until_commit_rollback_or_close(
    engine: Engine, database: Path
) -> None:
    writers = SQLiteWriters.of(database)
    sessions = session_factory(engine)
    assert _free(writers)
    with transaction(sessions) as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
        assert not _free(writers)
    assert _free(writers)

    def fail_after_writing() -> None:
        with transaction(sessions) as session:
            session.execute(text("UPDATE counter SET n = n + 1"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    assert _free(writers)

    raw = engine.raw_connection()
    try:
        raw.execute("BEGIN")  # no turn: not through the engine's begin
        assert _free(writers)
    finally:
        raw.close()
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # the engine's BEGIN IMMEDIATE: a turn
        assert not _free(writers)
    assert _free(writers)  # closed without commit: the pool's rollback ended it
    with engine.begin() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar() == 1


def test_a_read_only_transaction_takes_no_turn(engine: Engine, database: Path) -> None:
    writers = SQLiteWriters.of(database)
    with transaction(session_factory(engine), read_only=True) as session:
        assert session.execute(text("SELECT n FROM counter")).scalar() == 0
        assert _free(writers)


def test_turns_come_in_arrival_order(database: Path) -> None:
    writers = SQLiteWriters.of(database)
    assert writers.acquire(1.0)
    order: list[int] = []
    threads = []
    for n in range(4):
        thread = threading.Thread(target=lambda n=n: _write_turn(writers, order, n))
        thread.start()
        threads.append(thread)
        _wait_until(lambda n=n: len(writers._waiting) == n + 1)  # queued in this order
    writers.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3]
    assert _free(writers)


def _write_turn(writers: SQLiteWriters, order: list[int], n: int) -> None:
    assert writers.acquire(10.0)
    order.append(n)
    writers.release()


def _wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.001)


def test_a_writer_gives_up_waiting_at_the_timeout_and_the_queue_stays_whole(
    database: Path,
) -> None:
    writers = SQLiteWriters.of(database)
    assert writers.acquire(1.0)
    assert not writers.acquire(0.05)  # another thread of ours holds the turn
    assert not writers._waiting
    writers.release()
    assert _free(writers)


def test_another_process_holding_the_file_lock_is_waited_for(database: Path) -> None:
    """An ``flock`` on a descriptor of its own conflicts as another process's would."""
    writers = SQLiteWriters.of(database)
    other = os.open(f"{database}-writer", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        assert not writers.acquire(0.05)  # timed out; its helper still waits for the lock
        assert _free_in_process(writers)  # the turn in this process was given back

        releaser = threading.Timer(0.1, lambda: fcntl.flock(other, fcntl.LOCK_UN))
        releaser.start()
        assert writers.acquire(10.0)  # woken when the other process let go
        releaser.join()
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        writers.release()
        # The helper left over from the timed-out wait does not keep the lock for itself.
        _wait_until(lambda: _flock_now(other))
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
    assert _free(writers)


def _free_in_process(writers: SQLiteWriters) -> bool:
    return not writers._held and not writers._waiting


def _flock_now(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def test_a_failed_begin_gives_the_turn_back(engine: Engine, database: Path) -> None:
    """A writer outside the queue holds SQLite's lock past the busy timeout: BEGIN fails as it
    always did, and the turn is not kept."""
    writers = SQLiteWriters.of(database)
    outsider = sqlite3.connect(database, isolation_level=None)
    try:
        outsider.execute("BEGIN IMMEDIATE")
        raw = engine.raw_connection()
        try:
            raw.execute("PRAGMA busy_timeout=50")
        finally:
            raw.close()  # back to the pool with the short timeout (the one pooled connection)
        with engine.connect() as connection, pytest.raises(OperationalError, match="locked"):
            connection.exec_driver_sql("SELECT 1")
        assert _free(writers)
    finally:
        outsider.execute("ROLLBACK")
        outsider.close()


def test_concurrent_read_then_write_transactions_lose_no_update(engine: Engine) -> None:
    """Threads incrementing one counter (read, then write) while others read: every
    increment counts, no "database is locked"."""
    sessions = session_factory(engine)
    errors: list[BaseException] = []

    def increment(times: int) -> None:
        try:
            for _ in range(times):
                with transaction(sessions) as session:
                    n = session.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
                    session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    def read(times: int) -> None:
        try:
            for _ in range(times):
                with transaction(sessions, read_only=True) as session:
                    session.execute(text("SELECT count(*) FROM counter")).scalar_one()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=increment, args=(25,)) for _ in range(6)]
    threads += [threading.Thread(target=read, args=(50,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with transaction(sessions, read_only=True) as session:
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 150


def test_a_writing_commit_syncs_the_wal_after_its_turn_and_a_reading_one_does_not(
    engine: Engine, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers = SQLiteWriters.of(database)
    synced: list[tuple[str, bool]] = []

    def sync(path: str) -> None:
        synced.append((path, _free(writers)))

    monkeypatch.setattr(gate.db, "_sync_file", sync)
    sessions = session_factory(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    with transaction(sessions) as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
    assert synced == [(f"{database.resolve()}-wal", True)]  # synced once the turn was free

    with transaction(sessions, read_only=True) as session:
        session.execute(text("SELECT n FROM counter")).scalar_one()
    assert len(synced) == 1


def test_a_process_checkpoints_every_so_many_writing_commits(
    engine: Engine, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate.db, "SQLITE_CHECKPOINT_EVERY", 5)
    checkpoints: list[bool] = []
    execute = sqlite3.Connection.execute

    def spy(self: sqlite3.Connection, sql: str, *args: Any) -> sqlite3.Cursor:
        if "wal_checkpoint" in sql:
            checkpoints.append(_free(SQLiteWriters.of(database)))
        return execute(self, sql, *args)

    monkeypatch.setattr(gate.db._WriterConnection, "execute", spy, raising=False)
    SQLiteWriters.of(database)._commits = 0  # the fixture's schema commit counted too
    sessions = session_factory(engine)
    for _ in range(4):
        with transaction(sessions) as session:
            session.execute(text("UPDATE counter SET n = n + 1"))
        with transaction(sessions, read_only=True) as session:  # not counted
            session.execute(text("SELECT n FROM counter")).scalar_one()
    assert checkpoints == []
    with transaction(sessions) as session:
        session.execute(text("UPDATE counter SET n = n + 1"))  # the fifth
    assert checkpoints == [True]  # run once, off the turn
