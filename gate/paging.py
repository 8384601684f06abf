"""Keyset pagination over ``(timestamp, id)``, newest first, behind an opaque token (for the
queries of features: the crossing log, the audit trail).

Never ``OFFSET``: page N costs the same as page 1 and rows inserted while someone pages do
not shift the pages. The cursor is the last row shown; the next page holds the rows strictly
before it in ``(timestamp DESC, id DESC)`` order, so ties on the timestamp are broken by the
id and every row is visited exactly once.

The token is URL-safe base64 of ``"<iso timestamp>|<id>"``: opaque to users, but not a
secret (it names a row the user could see anyway). A malformed token raises
:class:`PagingError`; views answer 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class PagingError(ValueError):
    """A page token that this module did not produce."""


@dataclass(frozen=True)
class Cursor:
    """The position after which the next page starts: the last row shown."""

    at: datetime
    id: int

    def encode(self) -> str:
        """The opaque token for this cursor."""
        raw = f"{self.at.astimezone(UTC).isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Inverse of :meth:`encode`; :class:`PagingError` for anything else."""
        try:
            padded = token + "=" * (-len(token) % 4)
            text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
            at_text, id_text = text.split("|")
            at = datetime.fromisoformat(at_text)
            row_id = int(id_text)
        except (ValueError, UnicodeError, binascii.Error) as exc:
            raise PagingError(f"bad page token: {exc}") from None
        if at.tzinfo is None:
            raise PagingError("bad page token: naive time")
        return cls(at.astimezone(UTC), row_id)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows; ``next_token`` is None on the last page."""

    items: Sequence[T]
    next_token: str | None


def keyset_page(
    session: Session,
    query: Select[Any],
    *,
    at_column: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[int],
    token: str | None,
    size: int = DEFAULT_PAGE_SIZE,
    scalars: bool = True,
) -> Page[Any]:
    """The page of ``query`` after ``token`` (the first page when None), newest first.

    ``query`` carries the filters and MUST NOT be ordered or limited; this function orders by
    ``(at_column DESC, id_column DESC)`` and fetches one row more than ``size`` to know whether
    a next page exists. With ``scalars=True`` rows are the first entity of each result row;
    otherwise result rows. Either way the row (or its first element) must expose
    ``at_column``'s and ``id_column``'s attribute names.
    """
    size = max(1, min(size, MAX_PAGE_SIZE))
    if token:
        cursor = Cursor.decode(token)
        # Row comparison plus a plain bound: the index scan starts at the cursor.
        query = query.where(
            at_column <= cursor.at,
            tuple_(at_column, id_column) < tuple_(cursor.at, cursor.id),
        )
    query = query.order_by(at_column.desc(), id_column.desc()).limit(size + 1)
    rows: list[Any] = list(session.scalars(query) if scalars else session.execute(query))
    has_more = len(rows) > size
    rows = rows[:size]
    next_token = None
    if has_more:
        last = rows[-1] if scalars else rows[-1][0]
        next_token = Cursor(getattr(last, at_column.key), getattr(last, id_column.key)).encode()
    return Page(rows, next_token)
