"""Storing a batch of crossings a scanner decided offline (``POST /api/v1/crossings/batch``).

Every item gets a result of its own: ``stored``, ``duplicate`` (its client id is known) or
``rejected`` (unreadable: kept all the same, flagged, with the reason). Items are stored in
the order they arrive, so a household's crossings are judged in that order.

Items go in chunks of :data:`CHUNK` per transaction: one commit (one fsync) per chunk
instead of per item is what lets a day's backlog drain in minutes. A chunk first locks all
the households its passes name, in id order, and only then, with its first item, the gate:
an online scan locks one household and then the gate, so neither can hold what the other
waits for. A chunk that cannot name its households up front (screen codes), or that runs
into a concurrent upload of the same client id or a lost connection, is stored item by
item instead, each in a
transaction of its own. A chunk holds its gate for its duration: :data:`CHUNK` bounds how
long an online scan at the same gate may wait (about 0.1 s).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gate.api.retrying import is_retryable, with_replay_retry
from gate.api.schemas import ApiError, item_id, parse_offline_claim, parse_scan
from gate.community.context import ContextCache
from gate.crossings.models import Crossing
from gate.crossings.operations import Origin, record_rejected_upload, record_scan
from gate.db import transaction
from gate.households.models import Household
from passes import PassError, is_screen_code, parse_pass

CHUNK = 100
"""Items stored per transaction."""
UNNAMED_UPLOADS = uuid.UUID("5d0c3c1e-7a44-4f4e-9a55-0b3f1c2d9e61")
"""Namespace of the ids given to uploaded items that carry no usable UUID of their own."""

Result = dict[str, Any]


@dataclass(frozen=True)
class Uploader:
    """Who uploads, and what storing needs."""

    origin: Origin
    community_id: int
    sessions: sessionmaker[Session]
    contexts: ContextCache


@dataclass(frozen=True)
class _Item:
    """One uploaded item, read: the work that stores it, and the household its pass names
    (None when it names none; ``prelockable`` False when that cannot be known up front)."""

    store: Callable[[Session], Result]
    household_id: int | None
    prelockable: bool


def store_batch(uploader: Uploader, items: Sequence[object], *, now: datetime) -> list[Result]:
    """Store ``items`` in order; one result per item, in the same order."""
    read = [_read(uploader, item, now) for item in items]
    results: list[Result] = []
    for start in range(0, len(read), CHUNK):
        results += _store_chunk(uploader, read[start : start + CHUNK])
    return results


def _store_chunk(uploader: Uploader, chunk: list[_Item]) -> list[Result]:
    if all(item.prelockable for item in chunk):
        try:
            with transaction(uploader.sessions) as session:
                _lock_households(session, uploader.community_id, chunk)
                return [item.store(session) for item in chunk]
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            # A concurrent upload of the same items, or a lost connection: item by item, each
            # with its own retry, finds and replays what did get stored.
    return [with_replay_retry(uploader.sessions, item.store) for item in chunk]


_LOCK_HOUSEHOLDS = (
    select(cast(Table, Household.__table__).c.id)
    .where(
        Household.community_id == bindparam("community_id"),
        Household.id.in_(bindparam("household_ids", expanding=True)),
    )
    .order_by(Household.id)
    .with_for_update()
)


def _lock_households(session: Session, community_id: int, chunk: list[_Item]) -> None:
    ids = sorted({item.household_id for item in chunk if item.household_id is not None})
    if ids:
        session.connection().execute(
            _LOCK_HOUSEHOLDS, {"community_id": community_id, "household_ids": ids}
        ).all()


def _read(uploader: Uploader, item: object, now: datetime) -> _Item:
    client_id = item_id(item)
    if client_id is None:
        # Kept all the same, under an id derived from the device and the item's content,
        # so uploading the same unreadable item again stores nothing new.
        content = _raw_json(item, canonical=True)
        derived = str(uuid.uuid5(UNNAMED_UPLOADS, f"{uploader.origin.device_id}:{content}"))
        error = ApiError(422, "invalid_field", "id: must be a UUID string")
        rejected = _rejected(uploader, derived, item, error, now)
        return _Item(lambda session: {**rejected(session), "id": None}, None, True)
    try:
        scan_request = parse_scan(item, now=now)
        claim = parse_offline_claim(item.get("verdict") if isinstance(item, dict) else None)
    except ApiError as exc:
        return _Item(_rejected(uploader, client_id, item, exc, now), None, True)

    def store(session: Session) -> Result:
        context = uploader.contexts.get(session, uploader.community_id)
        recorded = record_scan(
            session,
            context=context,
            origin=uploader.origin,
            request=scan_request,
            now=now,
            offline=claim,
        )
        return _result(client_id, "duplicate" if recorded.replay else "stored", recorded.crossing)

    if is_screen_code(scan_request.pass_text):
        return _Item(store, None, prelockable=False)
    try:
        household_id: int | None = parse_pass(scan_request.pass_text).fields.household_id
    except PassError:
        household_id = None  # refused before any household is locked
    return _Item(store, household_id, prelockable=True)


def _rejected(
    uploader: Uploader, client_id: str, item: object, error: ApiError, now: datetime
) -> Callable[[Session], Result]:
    def store(session: Session) -> Result:
        existing = session.scalar(select(Crossing).where(Crossing.client_id == client_id))
        if existing is not None and not existing.rejected:
            # This UUID was stored as a valid crossing before: the scanner has it acknowledged.
            return _result(client_id, "duplicate", existing)
        if existing is None:
            context = uploader.contexts.get(session, uploader.community_id)
            existing = record_rejected_upload(
                session,
                context=context,
                origin=uploader.origin,
                client_id=client_id,
                raw=_raw_json(item),
                reason=error.message,
                now=now,
            )
        return _result(client_id, "rejected", existing, error)

    return store


def _result(
    client_id: str, status: str, crossing: Crossing, error: ApiError | None = None
) -> Result:
    """An item's result: ``stored`` now, ``duplicate`` (stored before) or ``rejected`` with
    ``error`` (kept as a rejected crossing, never a conflict)."""
    return {
        "id": client_id,
        "status": status,
        "crossing_id": crossing.id,
        "conflict": crossing.conflict,
        "conflict_code": crossing.conflict_code,
        "error": None if error is None else {"code": error.code, "message": error.message},
    }


def _raw_json(item: object, *, canonical: bool = False) -> str:
    """``item`` as JSON text that any database can store (no lone surrogates, no NUL)."""
    text = json.dumps(item, ensure_ascii=False, default=str, sort_keys=canonical)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\ud800" escapes
        text = json.dumps(item, default=str, sort_keys=canonical)
    return text
