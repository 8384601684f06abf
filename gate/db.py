"""Database plumbing: the declarative base, UTC datetimes, engines, sessions, transactions.

Every model in ``gate`` derives from :class:`Base`. Its metadata carries a naming convention so
that constraints get the same names on SQLite and PostgreSQL and Alembic can address them.

One place commits per request or CLI job: it opens :func:`transaction`; operations below it
flush, never commit.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
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
    - ``synchronous=FULL``: a crossing is acknowledged to the gate only after its transaction
      commits, and the gate shows green on that acknowledgement. With WAL, NORMAL may lose the
      last commits on power loss; FULL fsyncs the WAL on every commit so it does not. The cost
      (one fsync per commit) is small at one compound's rate of crossings.
    - ``foreign_keys=ON``: SQLite ignores foreign keys otherwise.
    - ``busy_timeout=5000``: wait for the write lock instead of failing at once.
    - Transactions start with ``BEGIN IMMEDIATE`` (the driver's own implicit BEGIN is disabled):
      it takes the write lock up front, so two read-then-write transactions (the quota check)
      are serialised instead of one failing with "database is locked" on upgrade; it also makes
      SAVEPOINTs and transactional DDL behave as documented. Long read-only work (exports) opts
      out with ``transaction(sessions, read_only=True)`` (a DEFERRED begin) so it does not hold
      the write lock while the gate is scanning.

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
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_database_file(Path(database))
    engine = create_engine(url, echo=echo)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _private_database_file(path: Path) -> None:
    """Create ``path`` (and a missing parent, 0700) as an empty 0600 file before SQLite does,
    or tighten an existing one and its ``-wal``/``-shm`` files to 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except (FileNotFoundError, PermissionError):
            pass


def _sqlite_on_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module; _sqlite_on_begin emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
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
    connection.exec_driver_sql(f"BEGIN {mode}")


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
