"""Database plumbing: the declarative base, UTC datetimes, engines, sessions, transactions.

Every model in ``gate`` derives from :class:`Base`. Its metadata carries a naming convention so
that constraints get the same names on SQLite and PostgreSQL and Alembic can address them.

One place commits per request or CLI job: it opens :func:`transaction`; operations below it
flush, never commit.
"""

from __future__ import annotations

import enum
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque, namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Integer,
    MetaData,
    Select,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Primary keys of tables that grow without bound (crossings, audit): BIGINT on PostgreSQL,
#: plain INTEGER on SQLite so the column stays the rowid alias and autoincrements.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

#: Unsigned 32-bit ids (household and community ids travel inside the pass). PostgreSQL's
#: INTEGER is signed 32-bit and cannot hold 2**32-1, so BIGINT there, with a CHECK on the range.
U32 = BigInteger().with_variant(Integer(), "sqlite")
U32_MAX = 0xFFFF_FFFF
U16_MAX = 0xFFFF

#: The ``prev_hash`` of every gate's first crossing, and a new gate's ``chain_hash``: the one
#: home of the crossing log's genesis, low enough for the gate and crossing models (and the
#: verification above them) to share it without importing each other.
GENESIS_HASH = "0" * 64


class Base(DeclarativeBase):
    """The one declarative base of the gate server."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the default of ``*_at`` columns)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored as a naive UTC timestamp.

    Binding a naive datetime raises ValueError: the server never guesses a zone. Aware values in
    any zone are converted to UTC. Values read back are always aware UTC.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def text_enum(enum_class: type[enum.Enum], name: str, length: int = 16) -> Enum:
    """A Python enum stored as its *values* in a VARCHAR with a named CHECK constraint.

    Not a native PostgreSQL ENUM type: adding a value is then a plain CHECK change on both
    backends.
    """
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; plain ``postgresql://``/``postgres://`` URLs get the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


IDLE_PING_SECONDS = 10.0
"""A pooled PostgreSQL connection idle this long is pinged before use."""
_CHECKED_IN_AT = "checkpoint_checked_in_at"


def make_engine(
    url: str | URL, *, echo: bool = False, idle_ping_seconds: float = IDLE_PING_SECONDS
) -> Engine:
    """Create the engine for ``url`` with the settings the gate server relies on.

    SQLite (file databases; the parent directory is created 0700 and the file 0600, and an
    existing file open to others, with its WAL and shared-memory files, is tightened to 0600:
    it holds personal data; SQLite gives the WAL the file's own mode):

    - ``journal_mode=WAL``: readers (office pages) never block the writer (scan API).
    - Durable commits: a crossing is acknowledged to the gate only after its transaction
      commits, and the gate shows green on that acknowledgement; the log is an audit record,
      so a commit that returned must survive power loss, not only a crash of the process.
      SQLite's ``synchronous=FULL`` gives that by syncing the WAL inside ``COMMIT``, with the
      write lock held: every other writer waited for each fsync (0.25 ms on an idle disk,
      3-8 ms on a busy one: most of a scan's time under the lock). So the connection runs
      ``synchronous=NORMAL`` (``COMMIT`` writes the WAL frames without syncing them) and
      :class:`_WriterConnection` syncs the WAL file itself after a writing ``COMMIT``, once the
      write turn has passed on, before ``commit()`` returns: as durable as FULL for every
      acknowledged transaction (the WAL is replayed in order, so a sync also covers the commits
      before it; SQLite's checkpoints still sync the WAL first and the database after), and
      concurrent syncs overlap. Another connection may read a commit before its sync ends;
      what it then writes is synced after it, so it is never durable without it.
      tests/faults/test_gate_power_cut.py cuts the power under four writing threads and finds
      every acknowledged row. If WAL cannot be enabled, FULL.
    - ``foreign_keys=ON``: SQLite ignores foreign keys otherwise.
    - ``busy_timeout=5000``: wait for the write lock instead of failing at once.
    - Transactions start with ``BEGIN IMMEDIATE`` (the driver's own implicit BEGIN is disabled):
      it takes the write lock up front, so two read-then-write transactions (the quota check)
      are serialised instead of one failing with "database is locked" on upgrade; it also makes
      SAVEPOINTs and transactional DDL behave as documented. Long read-only work (exports) opts
      out with ``transaction(sessions, read_only=True)`` (a DEFERRED begin) so it does not hold
      the write lock while the gate is scanning.
    - Before ``BEGIN IMMEDIATE`` a writer takes its turn in :class:`SQLiteWriters` (arrival
      order in the process, an ``flock`` between processes) instead of polling in SQLite's busy
      handler, whose sleeps grow to 100 ms and let newcomers overtake a waiting scan.
    - WAL checkpoints: PASSIVE, run every :data:`SQLITE_CHECKPOINT_EVERY` writing commits of
      a process by the committing connection after its turn (SQLite's own at 1000 WAL pages
      runs inside ``COMMIT``, within the turn: 5-15 ms). A read transaction (an export being
      downloaded) keeps a checkpoint from passing its snapshot until it ends; writers are not
      held up, the WAL only grows meanwhile.

    PostgreSQL: a pooled connection that sat idle for ``idle_ping_seconds`` is pinged before
    use and replaced if the server dropped it (a restart overnight costs a reconnect, not a
    failed request). Not SQLAlchemy's ``pool_pre_ping``, which pings on every checkout: that
    is one more round trip on every scan. A connection lost while busy raises an error with
    ``connection_invalidated`` set; the scan API retries those once (see
    :func:`is_lost_connection`).
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, echo=echo)
    engine = create_engine(parsed, echo=echo)
    _ping_when_idle(engine, idle_ping_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    def on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:  # any failure: the pool replaces the connection and retries
            raise DisconnectionError(f"idle connection lost: {exc}") from exc

    event.listen(engine.pool, "checkin", on_checkin)
    event.listen(engine.pool, "checkout", on_checkout)


def is_lost_connection(error: BaseException) -> bool:
    """True for a database error raised because the connection was lost (it has been
    invalidated: running the work again gets a fresh one)."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _make_sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database
    connect_args: dict[str, Any] = {}
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_database_file(Path(database))
        connect_args["factory"] = _WriterConnection
    engine = create_engine(url, echo=echo, connect_args=connect_args)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _private_database_file(path: Path) -> None:
    """Create ``path`` (and a missing parent, 0700) as an empty 0600 file before SQLite does,
    or tighten an existing one and its ``-wal``/``-shm``/``-writer`` files to 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-writer"):  # -writer: SQLiteWriters' lock file
        file = path.with_name(path.name + suffix)
        try:
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except (FileNotFoundError, PermissionError):
            pass


SQLITE_BUSY_TIMEOUT_MS = 5000
"""How long a SQLite writer waits for the write lock: first in :class:`SQLiteWriters`' queue,
then (for a writer outside it: a CLI job, a migration) in SQLite's busy handler."""


SQLITE_CHECKPOINT_EVERY = 50
"""Writing commits of a process between two of its own WAL checkpoints (a scan writes ~13
pages: SQLite's automatic checkpoint at 1000 pages then rarely comes first)."""


class SQLiteWriters:
    """The queue of this process's writers to one SQLite file, and the file lock that passes
    the write lock between processes (``<database>-writer``, beside the WAL).

    Why: a writer that finds the write lock taken waits in SQLite's busy handler, which polls
    with sleeps growing to 100 ms; newcomers take the lock between two polls, so under load a
    waiting scan starves for seconds while the lock is free most of the time. Here a writing
    transaction first takes its turn: in arrival order among the threads of this process (each
    waiter blocks on its own lock and the previous holder hands the turn over), then an
    ``flock`` on the side file (the kernel wakes a blocked process as soon as it is released;
    only the thread whose turn it is asks for it, so at most one per process waits there).
    ``BEGIN IMMEDIATE`` then finds the lock free. The turn ends with the transaction's
    ``COMMIT`` or ``ROLLBACK`` (or the connection's close). A process that dies holding the
    ``flock`` drops it with its descriptor.

    Writers outside the queue (another program, a CLI job through the same engine setup does
    queue) are still serialised by SQLite itself. A writer that waited
    :data:`SQLITE_BUSY_TIMEOUT_MS` for its turn goes on to ``BEGIN IMMEDIATE`` without it (and
    fails there as before when the lock stays taken), so a leak cannot wedge the server.
    """

    def __init__(self, database: Path) -> None:
        self._lock_path = database.with_name(database.name + "-writer")
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Lock] = deque()
        self._fd: int | None = None
        self._held_fd: int | None = None
        self._commits = 0

    @classmethod
    def of(cls, database: Path) -> SQLiteWriters:
        """The queue for ``database`` in this process (one per file: all engines share it;
        a forked child gets its own, with its own descriptor for the ``flock``)."""
        key = (os.getpid(), str(database.resolve()))
        with _WRITERS_LOCK:
            writers = _WRITERS.get(key)
            if writers is None:
                writers = _WRITERS[key] = cls(database.resolve())
            return writers

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for this writer's turn; False when it did not come."""
        deadline = time.monotonic() + timeout
        if not self._take_turn(timeout):
            return False
        try:
            self._held_fd = self._lock_file(deadline)
        except BaseException:
            self._pass_turn()
            raise
        if self._held_fd is None:
            self._pass_turn()
            return False
        return True

    def release(self) -> None:
        """End the turn taken by :meth:`acquire`."""
        fd, self._held_fd = self._held_fd, None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                if fd != self._fd:
                    os.close(fd)
        finally:
            self._pass_turn()

    def checkpoint_due(self) -> bool:
        """True once every :data:`SQLITE_CHECKPOINT_EVERY` writing commits of this process:
        the committing connection then runs a PASSIVE checkpoint, its turn already passed on
        (SQLite's own, every 1000 WAL pages, runs inside ``COMMIT``, so within the turn)."""
        with self._mutex:
            self._commits += 1
            if self._commits < SQLITE_CHECKPOINT_EVERY:
                return False
            self._commits = 0
            return True

    def _take_turn(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiting:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=timeout):
            return True
        with self._mutex:
            if turn in self._waiting:
                self._waiting.remove(turn)
                return False
        return True  # handed over between the timeout and the mutex: the turn is ours

    def _pass_turn(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()  # the next writer's turn; _held stays True
            else:
                self._held = False

    def _open(self) -> int:
        return os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _lock_file(self, deadline: float) -> int | None:
        """The descriptor now holding the ``flock``, or None at the deadline."""
        if self._fd is None:
            self._fd = self._open()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._fd
        except BlockingIOError:
            pass
        # Another process writes. A blocking flock wakes the moment the lock is released but
        # has no timeout, so a helper thread waits, on a descriptor of its own (a late helper
        # then contends like any other process), and gives the lock back if we stopped waiting.
        arbiter = threading.Lock()
        state = {"waiting": True, "got": False}
        got = threading.Event()

        def wait_for_it(fd: int) -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with arbiter:
                if state["waiting"]:
                    state["got"] = True
                    got.set()
                    return
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        fd = self._open()
        threading.Thread(target=wait_for_it, args=(fd,), daemon=True).start()
        got.wait(max(0.0, deadline - time.monotonic()))
        with arbiter:
            state["waiting"] = False
            return fd if state["got"] else None


_WRITERS: dict[tuple[int, str], SQLiteWriters] = {}
_WRITERS_LOCK = threading.Lock()


class _WriterConnection(sqlite3.Connection):
    """A sqlite3 connection to a database file that ends its writer's turn
    (:class:`SQLiteWriters`) when its transaction ends, then makes a writing transaction
    durable itself: SQLite writes the WAL frames at ``COMMIT`` (``synchronous=NORMAL``) and
    :meth:`commit` syncs the WAL after the turn has passed on, before it returns."""

    checkpoint_writers: SQLiteWriters | None = None
    checkpoint_has_turn = False
    checkpoint_immediate = False
    """The open transaction began IMMEDIATE (a writing one)."""
    checkpoint_wal: str | None = None
    """The WAL to sync after a writing commit; None: SQLite syncs it itself (FULL)."""
    checkpoint_synced_changes = 0

    def commit(self) -> None:
        wrote = self.checkpoint_immediate or self.total_changes != self.checkpoint_synced_changes
        self.checkpoint_immediate = False
        try:
            super().commit()
        finally:
            self.checkpoint_end_turn()
        if wrote and self.checkpoint_wal is not None:
            _sync_file(self.checkpoint_wal)  # acknowledged only once on disk
            self.checkpoint_synced_changes = self.total_changes
            if self.checkpoint_writers is not None and self.checkpoint_writers.checkpoint_due():
                # Off the write turn: other writers commit meanwhile. PASSIVE never waits; one
                # that fails is upkeep, not the committed work's failure: the next one catches up.
                with suppress(sqlite3.Error):
                    self.execute("PRAGMA wal_checkpoint(PASSIVE)").close()

    def rollback(self) -> None:
        self.checkpoint_immediate = False
        try:
            super().rollback()
        finally:
            self.checkpoint_end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.checkpoint_end_turn()

    def checkpoint_end_turn(self) -> None:
        if self.checkpoint_has_turn and self.checkpoint_writers is not None:
            self.checkpoint_has_turn = False
            self.checkpoint_writers.release()


def _sync_file(path: str) -> None:
    """fdatasync ``path`` (its data and the size that reads it back)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module; _sqlite_on_begin emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        journal_mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        database = cursor.execute("PRAGMA database_list").fetchone()[2]
        if isinstance(dbapi_connection, _WriterConnection) and database:
            dbapi_connection.checkpoint_writers = SQLiteWriters.of(Path(database))
            if str(journal_mode).lower() == "wal":
                # Durable all the same: commit() syncs the WAL, after the write turn.
                cursor.execute("PRAGMA synchronous=NORMAL")
                dbapi_connection.checkpoint_wal = database + "-wal"
                return
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


#: Execution option read by the SQLite begin hook: "IMMEDIATE" (default) or "DEFERRED".
SQLITE_BEGIN_OPTION = "checkpoint_sqlite_begin"


def _sqlite_on_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    mode = options.get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
    if mode not in ("IMMEDIATE", "DEFERRED"):
        raise ValueError(f"{SQLITE_BEGIN_OPTION} must be IMMEDIATE or DEFERRED, not {mode!r}")
    dbapi_connection = connection.connection.dbapi_connection
    if (
        mode == "IMMEDIATE"
        and isinstance(dbapi_connection, _WriterConnection)
        and dbapi_connection.checkpoint_writers is not None
        and not dbapi_connection.checkpoint_has_turn
    ):
        writers = dbapi_connection.checkpoint_writers
        dbapi_connection.checkpoint_has_turn = writers.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        connection.exec_driver_sql(f"BEGIN {mode}")
    except BaseException:
        if isinstance(dbapi_connection, _WriterConnection):
            dbapi_connection.checkpoint_end_turn()
        raise
    if isinstance(dbapi_connection, _WriterConnection):
        dbapi_connection.checkpoint_immediate = mode == "IMMEDIATE"


def session_factory(engine: Engine | Connection) -> sessionmaker[Session]:
    """Sessions bound to ``engine``.

    ``expire_on_commit=False``: objects stay readable after the one commit at the end of a
    request (templates render them) without a reload per attribute.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """A session inside one transaction: committed if the block succeeds, else rolled back.

    ``read_only=True`` promises the block will not write; on SQLite the transaction then begins
    DEFERRED and does not take the write lock (see :func:`make_engine`).

    Example::

        with transaction(sessions) as session:
            household = session.get(Household, household_id)
            ...
    """
    with sessions() as session, session.begin():
        if read_only:
            session.connection(execution_options={SQLITE_BEGIN_OPTION: "DEFERRED"})
        yield session


# --- hot-path statements on psycopg's own cursor ------------------------------------------


@dataclass(frozen=True)
class _DriverForm:
    """A Core statement as compiled once for one PostgreSQL dialect, with what SQLAlchemy
    would do around it: the constants' values, the bind processors and the result columns'
    processors (types such as :class:`UTCDateTime` and enums convert the same)."""

    sql: str
    fixed: dict[str, Any]
    required: frozenset[str]
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    results: tuple[Callable[[Any], Any] | None, ...]
    row: Callable[..., Any]


class DriverStatement:
    """A hot-path statement (a scan's device check, locking read and insert) sent as a
    psycopg prepared statement on the session's own connection (its transaction), skipping
    SQLAlchemy's per-execution work (bench/scan_api.py). The SQL is the Core statement's own
    compiled text, so the statement stays the one source of truth; errors are SQLAlchemy's
    (wrapped, a lost connection invalidated) as with ``Connection.execute``.

    Anything but psycopg, and an engine with event listeners or echo (the tests' statement
    logs), runs the plain ``Connection.execute``."""

    def __init__(self, statement: Select[Any] | ReturningInsert[Any]) -> None:
        self.statement = statement
        self._forms: weakref.WeakKeyDictionary[Dialect, _DriverForm | None]
        self._forms = weakref.WeakKeyDictionary()

    def first(self, connection: Connection, params: dict[str, Any]) -> Any:
        """The first row (attribute access by column name, as a Core row), or None."""
        form = self.form(connection)
        if form is None:
            return connection.execute(self.statement, params).first()
        raw = self._run(connection, form, params)
        if raw is None:
            return None
        return form.row(
            *[
                value if process is None else process(value)
                for value, process in zip(raw, form.results, strict=True)
            ]
        )

    def form(self, connection: Connection) -> _DriverForm | None:
        """The compiled form for ``connection``; None where the plain path runs."""
        dialect = connection.dialect
        # SQLAlchemy's private attributes (pinned below 2.2 in pyproject.toml); read with a
        # default that picks the plain path should a release rename them.
        if (
            dialect.driver != "psycopg"
            or getattr(connection, "_has_events", True)  # listeners must see every statement
            or getattr(connection.engine, "_has_events", True)
            or getattr(connection, "_echo", True)
        ):
            return None
        if dialect not in self._forms:
            try:
                self._forms[dialect] = _driver_form(self.statement, dialect)
            except (AttributeError, KeyError, TypeError):  # a compiler this code does not know
                logging.getLogger(__name__).warning(
                    "hot-path statement left to Connection.execute", exc_info=True
                )
                self._forms[dialect] = None
        return self._forms[dialect]

    @staticmethod
    def _run(connection: Connection, form: _DriverForm, params: dict[str, Any]) -> Any:
        missing = form.required.difference(params)
        if missing:
            raise ValueError(f"no value for the parameters {sorted(missing)}")
        values = {**form.fixed, **params}
        for name, process in form.binds:
            values[name] = process(values[name])
        driver = connection.connection.driver_connection
        try:
            return driver.execute(form.sql, values, prepare=True).fetchone()  # type: ignore[union-attr]
        except Exception as exc:  # what Connection.execute does with a DBAPI error
            connection._handle_dbapi_exception(exc, form.sql, values, None, None)


def _driver_form(statement: Select[Any] | ReturningInsert[Any], dialect: Dialect) -> _DriverForm:
    compiled = statement.compile(dialect=dialect)
    if compiled.escaped_bind_names or dialect.paramstyle != "pyformat":  # pragma: no cover
        raise RuntimeError("hot-path statements need plain named parameters")
    names = compiled.construct_params(_check=False)
    required = frozenset(name for name in names if compiled.binds[name].required)
    # One processor per parameter here (a sequence only for tuple-valued parameters).
    processors = cast("dict[str, Callable[[Any], Any]]", compiled._bind_processors)
    fixed = {  # the statement's constants, converted once
        name: processors[name](value) if name in processors else value
        for name, value in names.items()
        if name not in required
    }
    columns = compiled._result_columns  # (keyname, name, objects, type)
    return _DriverForm(
        sql=str(compiled),
        fixed=fixed,
        required=required,
        binds=tuple((name, processors[name]) for name in sorted(required & processors.keys())),
        results=tuple(column.type._cached_result_processor(dialect, None) for column in columns),
        row=namedtuple("DriverRow", [column.keyname for column in columns]),
    )
