"""Schema migrations (Alembic), run from code: no alembic.ini.

>>> from gate.migrations import upgrade
>>> upgrade("sqlite:///var/checkpoint.sqlite3")  # doctest: +SKIP
['0001']

``target`` may be a URL, an :class:`~sqlalchemy.Engine` or a :class:`~sqlalchemy.Connection`.
Given a URL or an engine, each call runs in its own transaction and commits it; given a
connection, it runs in the caller's transaction and the caller commits.

On SQLite, foreign keys are switched off while migrating (batch migrations recreate tables,
which would otherwise cascade or fail) and checked with ``PRAGMA foreign_key_check`` before
commit, as SQLite's documentation prescribes for schema changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from gate.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent

Target = str | URL | Engine | Connection


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (e.g. foreign key violations on SQLite)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the gate's migrations, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    config.attributes["applied"] = []
    return config


def script_directory() -> ScriptDirectory:
    """The revision scripts."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision id."""
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - there is always an initial revision
        raise MigrationError("no migrations found")
    return head


def upgrade(target: Target, revision: str = "head") -> list[str]:
    """Migrate up to ``revision``; return the revision ids applied, oldest first."""
    with _connection(target) as connection:
        config = alembic_config(connection)
        command.upgrade(config, revision)
        return [str(step) for step in config.attributes["applied"]]


def downgrade(target: Target, revision: str = "base") -> list[str]:
    """Migrate down to ``revision``; return the revision ids undone, newest first."""
    with _connection(target) as connection:
        config = alembic_config(connection)
        command.downgrade(config, revision)
        return [str(step) for step in config.attributes["applied"]]


def current_revision(target: Target) -> str | None:
    """The revision the database is at (None: no schema yet)."""
    with _connection(target) as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _connection(target: Target) -> Iterator[Connection]:
    if isinstance(target, Connection):
        yield target
        return
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                with _sqlite_foreign_keys_off(connection), connection.begin():
                    yield connection
                    _check_sqlite_foreign_keys(connection)
            else:
                with connection.begin():
                    yield connection
    finally:
        if engine is not target:
            engine.dispose()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    # PRAGMA foreign_keys is a no-op inside a transaction, so it goes to the driver connection
    # before SQLAlchemy begins one.
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise MigrationError(f"foreign key violations after migrating: {violations[:10]}")


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or used; the message names it (password hidden)."""


def shown_url(url: str | URL) -> str:
    """``url`` for messages: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def reporting_unavailable(url: str) -> Iterator[None]:
    """Turn a connection failure into :class:`DatabaseUnavailable` with the server's reason."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as exc:
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot use the database {shown_url(url)}: {first_line}"
        ) from None


def write_revision(url: str, message: str) -> None:
    """Autogenerate the next numbered migration from the models' difference with ``url``
    (which must be at the newest revision)."""
    engine = make_engine(url)
    try:
        head = head_revision()
        # Revisions are numbered 0001, 0002, ... so the order reads from the file names.
        next_id = f"{int(head) + 1:04d}" if head.isdigit() else None
        with engine.connect() as connection:
            command.revision(
                alembic_config(connection), message=message, autogenerate=True, rev_id=next_id
            )
    finally:
        engine.dispose()


class SchemaOutOfDate(RuntimeError):
    """The database has no schema yet, or an older one: ``checkpoint db upgrade`` first."""


@contextmanager
def opened_database(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database at ``url``, which must be at the newest revision.

    Raises :class:`DatabaseUnavailable` when it cannot be opened and
    :class:`SchemaOutOfDate` when it needs ``checkpoint db upgrade``. The engine is disposed
    when the block ends.
    """
    from sqlalchemy.exc import SQLAlchemyError

    import gate.models  # noqa: F401 - every mapper registered, so relationships resolve
    from gate.db import session_factory

    engine = make_engine(url)
    try:
        try:
            revision = current_revision(engine)
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(
                f"cannot open the database {shown_url(url)}: {exc.__class__.__name__}"
            ) from None
        if revision != head_revision():
            raise SchemaOutOfDate(
                "the database schema is missing or out of date: run `checkpoint db upgrade`"
            )
        yield session_factory(engine)
    finally:
        engine.dispose()
