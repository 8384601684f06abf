"""Running one request's database work in a transaction, with the one retry it may need."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gate.db import is_lost_connection, transaction

T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    """True for the failures that running the same work again resolves: a concurrent request
    stored the same client id first, or the database connection was lost."""
    return isinstance(error, IntegrityError) or is_lost_connection(error)


def with_replay_retry(sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Run ``work`` in a transaction, and once more if the first run lost the race for its
    client id (a concurrent request stored it first: the second run finds it and replays)
    or lost its database connection (the second run gets a fresh one; a commit that did
    land is found again by its client id)."""
    for attempt in range(2):
        try:
            with transaction(sessions) as session:
                return work(session)
        except DBAPIError as exc:  # IntegrityError is one
            if attempt or not is_retryable(exc):
                raise
    raise AssertionError("unreachable")
