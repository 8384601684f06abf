"""Storing a batch of crossings a scanner decided offline (``POST /api/v1/crossings/batch``).

Every item gets a result of its own: ``stored``, ``duplicate`` (its client id is known, for
this very request from this device) or ``rejected`` (unreadable: kept all the same, flagged,
with the reason; or ``id_reuse``: its id is stored for another request or device, nothing is
stored or answered of that one, and the office gets the event ``crossing.id_reuse``). Items
are stored in the order they arrive, so a household's crossings are judged in that order.
Reading the uploaded JSON is the entry point's work: it hands over :class:`UploadedScan` and
:class:`UnreadableUpload` items.

Items go in chunks of :data:`CHUNK` per transaction: one commit (one fsync) per chunk
instead of per item is what lets a day's backlog drain in minutes. So, unlike other
operations, :func:`store_batch` commits: it is given the request's unit of work and commits
it after each chunk. A chunk first locks all the households its passes name, in id order,
and only then, with its first item, the gate: an online scan locks one household and then
the gate, so neither can hold what the other waits for. A chunk that cannot name its
households up front (screen codes), or that runs into a concurrent upload of the same
client id or a lost connection, is stored item by item instead, each in a transaction of
its own. A chunk holds its gate for its duration: :data:`CHUNK` bounds how long an online
scan at the same gate may wait (about 0.1 s). The timelines of a chunk's households are
read once for the chunk (``gate.crossings.timeline.cached_timelines``), not once per
offline crossing.

The common case, a run of offline crossings with household passes, goes set-based first
(:mod:`gate.crossings.upload_chunk`), :data:`SET_CHUNK` items a transaction: a handful of
statements for the chunk instead of two round trips per item, the same rows stored. A run
that is not all of that case (or that fails) is stored as above, :data:`CHUNK` at a time.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gate.community.context import CommunityContext, ContextCache
from gate.crossings.operations import (
    CrossingError,
    OfflineClaim,
    Origin,
    ScanRequest,
    ScanResult,
    find_bound,
    override_refused_event,
    record_rejected_scan,
    record_rejected_upload,
    record_scan,
    upload_hash_of,
)
from gate.crossings.persistence import crossing_id_of, lock_households
from gate.crossings.supervisors import Supervisor, card_supervisor
from gate.crossings.timeline import cached_timelines, note_stored
from gate.crossings.upload_chunk import OfflineItem, store_offline_chunk
from gate.devices.operations import note_scanned
from gate.issuing.verified_passes import remembered_household
from gate.unit_of_work import UnitOfWork, is_retryable
from passes import PREFIX, Code, PassError, is_screen_code, parse_pass

logger = logging.getLogger(__name__)

CHUNK = 100
"""Items stored per transaction, item by item."""
SET_CHUNK = 250
"""Items stored per transaction set-based (``gate.crossings.upload_chunk``: about 0.3 ms
each, where item by item takes about 2 ms)."""
BACKWARDS_TOLERANCE = timedelta(minutes=2)
"""How far behind its device's latest crossing an uploaded one may be dated before the
device's clock is taken to have gone back (a journal uploads in the order it was written)."""
CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far after the server's receive time (or before its device was created) an uploaded
crossing may be dated: beyond it, it is kept but rejected (a clock set wrong, or forged)."""
UNNAMED_UPLOADS = uuid.UUID("5d0c3c1e-7a44-4f4e-9a55-0b3f1c2d9e61")
"""Namespace of the ids given to uploaded items that carry no usable UUID of their own."""

UploadStatus = Literal["stored", "duplicate", "rejected"]
OutsiderUpload = Callable[
    [Session, CommunityContext, Origin, ScanRequest, OfflineClaim, datetime], ScanResult | None
]
"""Stores an offline crossing made with an outsider's pass (a visitor pass), or answers None
when the pass is not one (:func:`gate.visitors.scans.record_visitor_upload`): the entry
point hands it over, as crossings may not import the features above them."""


def outsiders_of(*hooks: OutsiderUpload) -> OutsiderUpload:
    """One hook asking each of ``hooks`` in turn (each knows its own pass prefix: visitor,
    vehicle): the first answer that is not None, else None (a household's pass)."""

    def first(
        session: Session,
        context: CommunityContext,
        origin: Origin,
        request: ScanRequest,
        claim: OfflineClaim,
        now: datetime,
    ) -> ScanResult | None:
        for hook in hooks:
            stored = hook(session, context, origin, request, claim, now)
            if stored is not None:
                return stored
        return None

    return first


@dataclass(frozen=True)
class UploadedScan:
    """An uploaded item that reads as a crossing, with the verdict the scanner gave it.
    ``raw``: the item as uploaded (a JSON value), kept should storing it fail."""

    request: ScanRequest
    claim: OfflineClaim
    raw: object = None


@dataclass(frozen=True)
class UnreadableUpload:
    """An uploaded item the server cannot read: kept as a rejected crossing.

    ``client_id`` None: the item carries no usable UUID; it is stored under one derived from
    the device and the item's content, so uploading it again stores nothing new.
    """

    client_id: str | None
    raw: object
    """The item as uploaded (a JSON value)."""
    error_code: str
    error_message: str


Upload = UploadedScan | UnreadableUpload


@dataclass(frozen=True)
class UploadResult:
    """One item's result: ``stored`` now, ``duplicate`` (stored before) or ``rejected``
    with the error (kept as a rejected crossing, never a conflict)."""

    client_id: str | None
    status: UploadStatus
    crossing_id: int | None
    conflict: bool
    conflict_code: str | None
    error_code: str | None = None
    error_message: str | None = None
    clock_backwards: bool = False
    """Stored now, dated behind the device's clock high-water mark (flagged)."""
    scanned_at: datetime | None = None
    """Stored now: when it was scanned (moves the device's high-water mark)."""


@dataclass(frozen=True)
class Uploader:
    """Who uploads, and what storing needs. ``enrolled_at``: when the device was created
    (nothing it reports can have happened before)."""

    origin: Origin
    community_id: int
    contexts: ContextCache
    enrolled_at: datetime | None = None
    latest_scanned_at: datetime | None = None
    """The device's clock high-water mark before this upload (see ``note_scanned``)."""
    outsiders: OutsiderUpload | None = None
    """Where outsiders' passes are stored (None: every item is a household's)."""


@dataclass(frozen=True)
class _Item:
    """One uploaded item, ready: the work that stores it, and the household its pass names
    (None when it names none; ``prelockable`` False when that cannot be known up front).
    ``failed`` keeps it as a rejected crossing when storing it failed."""

    store: Callable[[Session], UploadResult]
    household_id: int | None
    prelockable: bool
    client_id: str | None
    failed: Callable[[Session, Exception], UploadResult]
    offline: OfflineItem | None = None
    """The item as the set-based chunk path takes it, when it may be of its common case
    (``gate.crossings.upload_chunk``)."""
    unread_pass: str | None = None
    """A household pass's text not read yet (``household_id`` None until then): the set
    path reads it as it verifies it, :meth:`household` when the item path needs it."""

    def household(self) -> int | None:
        """The household its pass names (None when it names none)."""
        if self.household_id is None and self.unread_pass is not None:
            return _household_in(self.unread_pass)
        return self.household_id


def store_batch(
    unit: UnitOfWork, uploader: Uploader, items: Sequence[Upload], *, now: datetime
) -> list[UploadResult]:
    """Store ``items`` in order, committing ``unit`` after each chunk; one result per item,
    in the same order."""
    ready = [
        _ready(uploader, item, now, backwards)
        for item, backwards in zip(items, _behind_the_mark(uploader, items, now), strict=True)
    ]
    results: list[UploadResult] = []
    start = 0
    while start < len(ready):
        stored = _store_set_chunk(unit, uploader, ready[start : start + SET_CHUNK], now)
        if stored is None:
            stored = _store_chunk(unit, uploader, ready[start : start + CHUNK], now)
        results += stored
        start += len(stored)
    return results


def _behind_the_mark(uploader: Uploader, items: Sequence[Upload], now: datetime) -> list[bool]:
    """For each item: dated behind the device's clock high-water mark, as it stood before
    this item (the mark before the upload, raised by the items before it)?"""
    mark = uploader.latest_scanned_at
    behind = []
    for item in items:
        at = item.request.scanned_at if isinstance(item, UploadedScan) else None
        if at is None or _implausible_time(uploader, at, now) is not None:
            behind.append(False)
            continue
        behind.append(mark is not None and at < mark - BACKWARDS_TOLERANCE)
        mark = at if mark is None else max(mark, at)
    return behind


def _note_clock(
    session: Session, uploader: Uploader, results: Sequence[UploadResult], now: datetime
) -> None:
    """Raise the device's clock high-water mark to what a chunk stored, and flag the device
    when some of it went back in time (in the chunk's transaction)."""
    device_id = uploader.origin.device_id
    stored = [r for r in results if r.status == "stored" and r.scanned_at is not None]
    if device_id is None or not stored:
        return
    note_scanned(
        session,
        device_id=device_id,
        community_id=uploader.community_id,
        latest=max(r.scanned_at for r in stored if r.scanned_at is not None),
        backwards=[r.client_id for r in stored if r.clock_backwards and r.client_id],
        now=now,
    )


def _store_chunk(
    unit: UnitOfWork, uploader: Uploader, chunk: list[_Item], now: datetime
) -> list[UploadResult]:
    if all(item.prelockable for item in chunk):
        try:
            session = unit.session
            household_ids = [h for item in chunk if (h := item.household()) is not None]
            lock_households(session, uploader.community_id, household_ids)
            # Locked for the chunk: their timelines are read once, not once per crossing.
            with cached_timelines(session, household_ids):
                results = [item.store(session) for item in chunk]
            _note_clock(session, uploader, results, now)
            unit.commit()
            return results
        except Exception as exc:  # any failure: the chunk goes item by item
            # A concurrent upload of the same items or a lost connection (each item's own
            # retry finds and replays what did get stored), or one item the server cannot
            # store (answered alone, with its error): nothing of the chunk was committed.
            logger.info("upload chunk stored item by item after %r", exc)
            unit.reset()
    results = [_store_alone(unit, item) for item in chunk]
    _note_clock(unit.session, uploader, results, now)
    unit.commit()
    return results


def _store_set_chunk(
    unit: UnitOfWork, uploader: Uploader, chunk: list[_Item], now: datetime
) -> list[UploadResult] | None:
    """The chunk stored at once and committed when all of it is the common case
    (``upload_chunk``); None, nothing stored, when it is not (or storing it failed: the
    item path then stores it and answers any error)."""
    offline = [item.offline for item in chunk if item.offline is not None]
    if len(offline) != len(chunk):
        return None
    try:
        session = unit.session
        context = uploader.contexts.get(session, uploader.community_id)
        recorded = store_offline_chunk(
            session, context=context, origin=uploader.origin, items=offline, now=now
        )
        if recorded is None:  # nothing written; what it locked stays locked until the commit
            return None
        results = [
            UploadResult(
                client_id=stored.client_id,
                status="stored",
                crossing_id=stored.crossing_id,
                conflict=stored.conflict,
                conflict_code=stored.conflict_code,
                scanned_at=stored.scanned_at,
            )
            for stored in recorded
        ]
        _note_clock(session, uploader, results, now)
        unit.commit()
    except Exception as exc:  # a concurrent upload of the same ids, a lost connection, ...
        logger.info("upload chunk stored by the item path after %r", exc)
        unit.reset()
        return None
    return results


def _store_alone(unit: UnitOfWork, item: _Item) -> UploadResult:
    """Store one item in a transaction of its own, and once more if the first run lost the
    race for its client id or its connection (the second run finds what did get stored).

    An item that still fails is that item's problem, not the batch's: it is kept as a
    rejected crossing and answered ``rejected`` with ``item_error``; the rest go on.
    """
    failure: Exception | None = None
    for attempt in range(2):
        try:
            result = item.store(unit.session)
            unit.commit()
            return result
        except DBAPIError as exc:  # IntegrityError is one
            unit.reset()
            failure = exc
            if attempt or not is_retryable(exc):
                break
        except Exception as exc:  # answered per item, logged with its trace
            unit.reset()
            failure = exc
            break
    if failure is None:  # pragma: no cover - the loop always sets it before leaving
        raise AssertionError("unreachable")
    logger.error("upload item %s could not be stored", item.client_id, exc_info=failure)
    try:
        result = item.failed(unit.session, failure)
        unit.commit()
    except Exception:
        unit.reset()
        raise failure from None  # the server cannot store anything: a 5xx for the request
    return result


def _ready(uploader: Uploader, item: Upload, now: datetime, backwards: bool = False) -> _Item:
    if isinstance(item, UnreadableUpload):
        keep = _rejected(uploader, item, now)
        return _Item(keep, None, True, item.client_id, lambda session, _error: keep(session))
    request, claim = item.request, item.claim
    implausible = _implausible_time(uploader, request.scanned_at, now)
    if implausible is not None:
        return _implausible(uploader, item, now, *implausible)

    def failed(session: Session, error: Exception) -> UploadResult:
        unreadable = UnreadableUpload(
            request.client_id,
            item.raw,
            "item_error",
            f"the server could not store this item ({type(error).__name__}); kept for the office",
        )
        return _rejected(uploader, unreadable, now)(session)

    def store(session: Session) -> UploadResult:
        context = uploader.contexts.get(session, uploader.community_id)
        if uploader.outsiders is not None:
            try:
                outsider = uploader.outsiders(
                    session, context, uploader.origin, request, claim, now
                )
            except CrossingError as exc:  # id_reuse
                return _refused(request.client_id, exc)
            if outsider is not None:
                counted = outsider.allowed and not outsider.rejected  # the timeline cache's
                note_stored(session, outsider.household_id, outsider.crossing_id, counted=counted)
                status: UploadStatus = "duplicate" if outsider.replay else "stored"
                return replace(
                    _result(outsider, request.client_id, status), scanned_at=outsider.scanned_at
                )
        supervisor, refusal = _card_at_scan_time(session, context, request)
        if refusal is not None and claim.allowed:
            return _override_not_accepted(session, uploader, item, refusal, now)
        try:
            recorded = record_scan(
                session,
                context=context,
                origin=uploader.origin,
                request=request,
                now=now,
                offline=claim,
                clock_backwards=backwards,
                supervisor=supervisor,
                override_refusal=refusal,
            )
        except CrossingError as exc:  # id_reuse: refused, the event is in the chunk
            return _refused(request.client_id, exc)
        if recorded.replay:
            return _result(recorded, request.client_id, "duplicate")
        counted = recorded.allowed and not recorded.rejected
        note_stored(session, recorded.household_id, recorded.crossing_id, counted=counted)
        return replace(
            _result(recorded, request.client_id, "stored"),
            clock_backwards=backwards,
            scanned_at=recorded.scanned_at,
        )

    if is_screen_code(request.pass_text):
        return _Item(store, None, False, request.client_id, failed)
    household_id = remembered_household(uploader.community_id, request.pass_text)
    # Not parsed here when it may be a household's pass: the set path reads it as it
    # verifies it (parsing it twice was 3% of a drain's server CPU), the item path on demand.
    unread = (
        request.pass_text if household_id is None and request.pass_text.startswith(PREFIX) else None
    )
    offline = None
    named = household_id is not None or unread is not None
    if named and request.override is None and not backwards:
        offline = OfflineItem(request, claim, household_id)  # a household's pass: no outsider
    return _Item(store, household_id, True, request.client_id, failed, offline, unread)


def _household_in(text: str) -> int | None:
    """The household a pass text names; None when it is not a household pass (refused
    before any household is locked)."""
    try:
        return parse_pass(text).fields.household_id
    except PassError:
        return None


def _card_at_scan_time(
    session: Session, context: CommunityContext, request: ScanRequest
) -> tuple[Supervisor | None, Code | None]:
    """The supervisor of an offline override's card, checked at the crossing's scan time,
    or the code of the card's refusal; ``(None, None)`` without a card."""
    override = request.override
    if override is None or override.card is None:
        return None, None
    found = card_supervisor(session, context=context, text=override.card, at=request.scanned_at)
    return (None, found) if isinstance(found, Code) else (found, None)


def _override_not_accepted(
    session: Session, uploader: Uploader, item: UploadedScan, refusal: Code, now: datetime
) -> UploadResult:
    """An offline crossing the scanner let through with a supervisor card that was not valid
    at the scan time: kept, rejected with the card's refusal code (changing no household
    state), and audited as ``crossing.override_refused``."""
    request = item.request
    context = uploader.contexts.get(session, uploader.community_id)
    message = (
        f"the supervisor card of this override did not count at {request.scanned_at.isoformat()}"
        f" ({refusal.value}): rejected, kept"
    )
    try:
        kept = record_rejected_scan(
            session,
            context=context,
            origin=uploader.origin,
            request=request,
            claim=item.claim,
            code=refusal.value,
            reason=message,
            now=now,
        )
    except CrossingError as exc:
        return _refused(request.client_id, exc)
    if kept.replay and not kept.rejected:  # stored as a valid crossing before: acknowledged
        return _result(kept, request.client_id, "duplicate")
    if not kept.replay:
        override_refused_event(
            session,
            context=context,
            origin=uploader.origin,
            request=request,
            crossing_id=kept.crossing_id,
            refusal=refusal,
            stored_code=kept.code,
        )
    return UploadResult(
        client_id=request.client_id,
        status="rejected",
        crossing_id=kept.crossing_id,
        conflict=False,
        conflict_code=None,
        error_code=refusal.value,
        error_message=message,
    )


def _implausible_time(
    uploader: Uploader, scanned_at: datetime, now: datetime
) -> tuple[str, str] | None:
    """``(code, message)`` when an uploaded crossing cannot have happened when it says."""
    if scanned_at > now + CLOCK_TOLERANCE:
        return (
            "scanned_at_future",
            f"scanned_at {scanned_at.isoformat()} is after the server's time "
            f"{now.isoformat()} (more than {CLOCK_TOLERANCE} ahead): rejected, kept",
        )
    enrolled_at = uploader.enrolled_at
    if enrolled_at is not None and scanned_at < enrolled_at - CLOCK_TOLERANCE:
        return (
            "scanned_before_enrolment",
            f"scanned_at {scanned_at.isoformat()} is before the device was created "
            f"({enrolled_at.isoformat()}): rejected, kept",
        )
    return None


def _implausible(
    uploader: Uploader, item: UploadedScan, now: datetime, code: str, message: str
) -> _Item:
    """An uploaded crossing dated where it cannot be: stored rejected, changing nothing."""
    request = item.request

    def store(session: Session) -> UploadResult:
        context = uploader.contexts.get(session, uploader.community_id)
        try:
            kept = record_rejected_scan(
                session,
                context=context,
                origin=uploader.origin,
                request=request,
                claim=item.claim,
                code=code,
                reason=message,
                now=now,
            )
        except CrossingError as exc:
            return _refused(request.client_id, exc)
        if kept.replay and not kept.rejected:
            return _result(kept, request.client_id, "duplicate")
        return UploadResult(
            client_id=request.client_id,
            status="rejected",
            crossing_id=kept.crossing_id,
            conflict=False,
            conflict_code=None,
            error_code=code,
            error_message=message,
        )

    def failed(session: Session, _error: Exception) -> UploadResult:
        return store(session)

    return _Item(store, None, True, request.client_id, failed)


def _rejected(
    uploader: Uploader, item: UnreadableUpload, now: datetime
) -> Callable[[Session], UploadResult]:
    client_id = item.client_id
    if client_id is None:
        content = _raw_json(item.raw, canonical=True)
        client_id = str(uuid.uuid5(UNNAMED_UPLOADS, f"{uploader.origin.device_id}:{content}"))
    stored_id = client_id
    raw = _raw_json(_redacted(item.raw))
    request_hash = upload_hash_of(uploader.origin, raw)

    def store(session: Session) -> UploadResult:
        context = uploader.contexts.get(session, uploader.community_id)
        if crossing_id_of(session, stored_id) is None:
            existing = record_rejected_upload(
                session,
                context=context,
                origin=uploader.origin,
                client_id=stored_id,
                raw=raw,
                reason=item.error_message,
                now=now,
                request_hash=request_hash,
            )
            return _result(existing, item.client_id, "rejected", item)
        try:
            existing = find_bound(
                session,
                context=context,
                origin=uploader.origin,
                client_id=stored_id,
                request_hash=request_hash,
                attempt={"unreadable": item.error_code},
                now=now,
            )
        except CrossingError as exc:
            return _refused(item.client_id, exc)
        if existing.rejected:
            return _result(existing, item.client_id, "rejected", item)
        # Stored as a valid crossing before ids were bound: the scanner has it acknowledged.
        return _result(existing, item.client_id, "duplicate")

    return store


def _result(
    recorded: ScanResult,
    client_id: str | None,
    status: UploadStatus,
    unreadable: UnreadableUpload | None = None,
) -> UploadResult:
    return UploadResult(
        client_id=client_id,
        status=status,
        crossing_id=recorded.crossing_id,
        conflict=recorded.conflict,
        conflict_code=recorded.conflict_code,
        error_code=None if unreadable is None else unreadable.error_code,
        error_message=None if unreadable is None else unreadable.error_message,
    )


def _refused(client_id: str | None, error: CrossingError) -> UploadResult:
    """An item refused as a request (``id_reuse``): nothing stored under it, nothing of the
    crossing stored under its id answered."""
    return UploadResult(
        client_id=client_id,
        status="rejected",
        crossing_id=None,
        conflict=False,
        conflict_code=None,
        error_code=error.code,
        error_message=error.message,
    )


def _redacted(item: object) -> object:
    """``item`` without a supervisor's password (an override's credential), as kept."""
    if not isinstance(item, dict):
        return item
    override = item.get("override")
    if not isinstance(override, dict) or "supervisor_credential" not in override:
        return item
    credential = override["supervisor_credential"]
    username = credential.get("username") if isinstance(credential, dict) else None
    kept = {"username": username, "password": "***"}
    return {**item, "override": {**override, "supervisor_credential": kept}}


def _raw_json(item: object, *, canonical: bool = False) -> str:
    """``item`` as JSON text that any database can store (no lone surrogates, no NUL)."""
    text = json.dumps(item, ensure_ascii=False, default=str, sort_keys=canonical)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\ud800" escapes
        text = json.dumps(item, default=str, sort_keys=canonical)
    return text
