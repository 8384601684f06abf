"""The unit of work: one session, one transaction, one commit, owned by an entry point.

Each web request and each CLI job opens exactly one :class:`UnitOfWork`; the operations and
queries below it receive its session and only ``flush()``. The unit decides, once, whether
it may write:

- A **writing** unit begins its transaction the first time its session touches the database
  (on SQLite with ``BEGIN IMMEDIATE``: the write lock). Parse and validate input before
  touching the session, so the lock is held only while writing.
- A **read-only** unit begins ``DEFERRED`` on SQLite, so it never takes the write lock and
  never delays a scan; flushing changes in it raises :class:`ReadOnlyUnitError` instead of
  being silently rolled back.

The unit commits in one place, :meth:`UnitOfWork.commit`, called by the entry point's
plumbing (``gate.web.unit_of_work`` for requests, ``gate.cli.support.office_job`` for CLI
jobs) when the work succeeded; otherwise it rolls back. Callbacks registered with
:func:`after_commit` (cache invalidation, files to delete) run only after a real commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gate.db import SQLITE_BEGIN_OPTION, is_lost_connection

DbSession = Session
"""The session type entry points hand to features (they only pass it through; the database
API stays below them)."""

_UNIT_KEY = "checkpoint_unit_of_work"
_T = TypeVar("_T")


class ReadOnlyUnitError(RuntimeError):
    """A read-only unit of work was asked to write (a programming error, not user input)."""


def is_retryable(error: BaseException) -> bool:
    """True for the failures that running the same work again resolves: a concurrent request
    stored the same client id first, or the database connection was lost."""
    return isinstance(error, IntegrityError) or is_lost_connection(error)


class UnitOfWork:
    """One session and at most one transaction for one request or CLI job.

    Not thread-safe: one unit belongs to one request or job.
    """

    def __init__(self, sessions: sessionmaker[Session], *, writes: bool) -> None:
        self._sessions = sessions
        self.writes = writes
        self._session: Session | None = None
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> Session:
        """The unit's session; its transaction begins on first use (see the module doc)."""
        if self._session is None:
            session = self._sessions()
            session.info[_UNIT_KEY] = self
            if not self.writes:
                event.listen(session, "before_flush", _refuse_flush)
                session.connection(execution_options={SQLITE_BEGIN_OPTION: "DEFERRED"})
            self._session = session
        return self._session

    @property
    def started(self) -> bool:
        """Whether the session has been used (a transaction may be open)."""
        return self._session is not None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after this unit commits (never if it rolls back)."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        """Commit the work so far and run the after-commit callbacks.

        Called once by the entry point's plumbing; long writing jobs that must release the
        write lock between chunks (offline batch uploads, bulk issuing) call it per chunk.
        A read-only unit only ends its read transaction.
        """
        if self._session is None:
            return
        if not self._session.in_transaction():
            pass  # committed already (a retrying view commits itself): nothing to send
        elif self.writes:
            self._session.commit()
        else:
            self._session.rollback()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def write_first(self, work: Callable[[Session], _T]) -> _T:
        """Run a small write in a read-only unit, in a short transaction committed before
        this returns; the unit then goes on reading (on SQLite without the write lock).

        For a read-only request that must record one thing (a device's check-in before its
        bundle is read, an export's audit event before its rows are sent). The read
        transaction open so far ends first, so objects read before are reloaded on use. In
        a writing unit ``work`` simply runs as part of the unit.
        """
        if self.writes:
            return work(self.session)
        session = self.session
        session.rollback()
        event.remove(session, "before_flush", _refuse_flush)
        try:
            result = work(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            event.listen(session, "before_flush", _refuse_flush)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()
        session.connection(execution_options={SQLITE_BEGIN_OPTION: "DEFERRED"})
        return result

    def rollback(self) -> None:
        """Discard the work since the last commit (the after-commit callbacks too)."""
        self._after_commit = []
        if self._session is not None:
            self._session.rollback()

    def close(self) -> None:
        """Roll back anything not committed and release the connection."""
        if self._session is not None:
            self._session.close()
            self._session = None
        self._after_commit = []

    def reset(self) -> None:
        """Roll back and start over with a fresh session (to run the same work again after
        a lost connection or a lost race for a client id)."""
        self.close()

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()


def unit_of(session: Session) -> UnitOfWork | None:
    """The unit of work that owns ``session`` (None for a session opened elsewhere, e.g. a
    test's)."""
    unit = session.info.get(_UNIT_KEY)
    return unit if isinstance(unit, UnitOfWork) else None


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``session``'s work is committed.

    For operations: a cache to invalidate or a file to delete only once the change is
    durable. A session that belongs to no unit (tests) runs it at the next real commit.
    """
    unit = unit_of(session)
    if unit is not None:
        unit.after_commit(callback)
        return

    def run_once(_session: Session) -> None:
        callback()

    event.listen(session, "after_commit", run_once, once=True)


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyUnitError(
            "this request or job was declared read-only but tried to write: "
            "declare it writing (gate.web.unit_of_work.writes / office_job(writes=True))"
        )
