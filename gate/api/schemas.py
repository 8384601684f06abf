"""The scanner API's JSON, read and written with the wire format of :mod:`passes.wire`.

Thin adapters: the wire module checks every field; this module adds what only the server
knows (its clock), turns a :class:`passes.WireFormatError` into an :class:`ApiError` (422
``invalid_field`` naming the field, 413 ``batch_too_large``) and builds the answers from what
the crossings feature stored. Bad input never causes a 500.

Bodies without ``format`` are v0 (scanners built before the wire module) and are read as
before: see :func:`passes.wire.from_v0`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from gate.crossings.operations import OfflineClaim, ScanRequest
from passes import OVERRIDE_REFUSAL_CODES, Code, WireFormatError, describe, reason, wire

if TYPE_CHECKING:
    from gate.crossings.uploads import UploadResult

MAX_BATCH = wire.MAX_BATCH
MAX_CLOCK_SKEW = timedelta(days=400)
_KNOWN_CODES = frozenset(code.value for code in Code)
"""Every code the core names (a stored code outside it is shown as it is)."""


class ApiError(Exception):
    """A client fault: ``status`` (4xx), stable ``code`` and a human ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        """The error body."""
        return {"error": {"code": self.code, "message": self.message}}


def bad(field: str, problem: str) -> ApiError:
    """A 422 naming the field."""
    return ApiError(422, "invalid_field", f"{field}: {problem}")


def _invalid(error: WireFormatError) -> ApiError:
    return bad(error.field, error.problem)


def parse_scan(body: object, *, now: datetime) -> ScanRequest:
    """A scan request from a scan body (or from an offline crossing: its scan part); raises
    :class:`ApiError` naming the first bad field."""
    return _scan_request(_wire_scan(body), now)


def parse_online_scan(
    body: object, *, now: datetime
) -> tuple[ScanRequest, wire.SupervisorCredential | None]:
    """:func:`parse_scan`, with the supervisor credential its override carries (None: no
    override, or none with it)."""
    scan = _wire_scan(body)
    credential = scan.supervisor_credential if scan.override is not None else None
    return _scan_request(scan, now), credential


def _wire_scan(body: object) -> wire.Scan:
    try:
        if isinstance(body, dict) and body.get("format") == wire.CROSSING_FORMAT:
            return wire.Crossing.from_json(body).scan
        return wire.Scan.from_json(wire.from_v0(body, wire.Scan))
    except WireFormatError as exc:
        raise _invalid(exc) from None


def parse_batch_item(item: object, *, now: datetime) -> tuple[ScanRequest, OfflineClaim]:
    """An uploaded offline crossing: its scan and the scanner's verdict on it."""
    try:
        crossing = wire.Crossing.from_json(wire.from_v0(item, wire.Crossing))
    except WireFormatError as exc:
        raise _invalid(exc) from None
    return _scan_request(crossing.scan, now), _claim(crossing.verdict)


def _scan_request(scan: wire.Scan, now: datetime) -> ScanRequest:
    if abs(scan.scanned_at - now) > MAX_CLOCK_SKEW:
        raise bad("scanned_at", "is implausibly far from the server's time")
    return ScanRequest(
        client_id=scan.id,
        pass_text=scan.pass_text,
        direction=scan.direction,
        temperature=scan.temperature,
        scanned_at=scan.scanned_at.astimezone(UTC),
        operator=scan.operator,
        override=scan.override,
        latency_ms=scan.latency_ms,
        clock_offset_ms=scan.clock_offset_ms,
        people=scan.people,
    )


def _claim(claim: wire.Claim) -> OfflineClaim:
    return OfflineClaim(
        allowed=claim.allowed,
        code=claim.code,
        codes=claim.codes,
        notes=claim.notes,
        rule_version=claim.rule_version,
    )


def batch_items(body: object) -> list[object]:
    """The list of uploaded crossings, at most :data:`MAX_BATCH`, each still to be read."""
    try:
        return wire.batch_entries(body)
    except WireFormatError as exc:
        items = body.get("crossings") if isinstance(body, dict) else None
        if isinstance(items, list) and len(items) > MAX_BATCH:
            message = f"at most {MAX_BATCH} crossings per batch"
            raise ApiError(413, "batch_too_large", message) from None
        raise _invalid(exc) from None


def item_id(item: object) -> str | None:
    """The client UUID of an uploaded item, if it has a valid one."""
    value = item.get("id") if isinstance(item, dict) else None
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None
    return None


class StoredVerdict(Protocol):
    """What the answers need of a stored crossing (a ``Crossing`` row or a scan result)."""

    @property
    def client_id(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def allowed(self) -> bool: ...
    @property
    def code(self) -> str | None: ...
    @property
    def codes(self) -> str: ...
    @property
    def flags(self) -> str: ...
    @property
    def next_exit_at(self) -> datetime | None: ...
    @property
    def rule_version(self) -> int: ...


def _verdict(crossing: StoredVerdict, timezone: str) -> wire.Verdict:
    known = _KNOWN_CODES
    notes = tuple(Code(n) for n in crossing.flags.split() if n in known)
    code = Code(crossing.code) if crossing.code is not None and crossing.code in known else None
    refused_override = [note for note in notes if note in OVERRIDE_REFUSAL_CODES]
    if refused_override and not crossing.allowed:
        # An override asked for and refused: the volunteer reads why (the code stays the
        # refusal's own, the override's code is in the notes).
        return _verdict_with_reason(crossing, refused_override[0])
    reasons = {
        lang: describe(
            allowed=crossing.allowed,
            code=code,
            notes=notes,
            next_exit=crossing.next_exit_at,
            timezone=timezone,
            lang=lang,
        )
        if crossing.allowed or code is not None
        else (crossing.code or "")
        for lang in ("zh", "en")
    }
    return wire.Verdict(
        allowed=crossing.allowed,
        display=wire.display_of(crossing.allowed, crossing.code),
        code=crossing.code,
        codes=tuple(crossing.codes.split()),
        notes=tuple(crossing.flags.split()),
        reason_zh=reasons["zh"],
        reason_en=reasons["en"],
        next_exit_at=crossing.next_exit_at,
        rule_version=crossing.rule_version,
    )


def _verdict_with_reason(crossing: StoredVerdict, shown: Code) -> wire.Verdict:
    return wire.Verdict(
        allowed=crossing.allowed,
        display=wire.display_of(crossing.allowed, crossing.code),
        code=crossing.code,
        codes=tuple(crossing.codes.split()),
        notes=tuple(crossing.flags.split()),
        reason_zh=reason(shown, "zh"),
        reason_en=reason(shown, "en"),
        next_exit_at=crossing.next_exit_at,
        rule_version=crossing.rule_version,
    )


def scan_response(
    crossing: StoredVerdict, *, replay: bool, household_label: str | None, timezone: str
) -> dict[str, Any]:
    """The answer to ``POST /api/v1/scans`` (``checkpoint.verdict.v1``)."""
    return wire.ScanAnswer(
        id=crossing.client_id,
        crossing_id=crossing.id,
        replay=replay,
        verdict=_verdict(crossing, timezone),
        household_label=household_label,
        next_exit_at=crossing.next_exit_at,
    ).to_json()


def batch_response(results: Iterable[UploadResult]) -> dict[str, Any]:
    """The answer to ``POST /api/v1/crossings/batch`` (``checkpoint.batch-result.v1``)."""
    return wire.BatchResult(
        tuple(
            wire.ItemResult(
                id=result.client_id,
                status=result.status,
                crossing_id=result.crossing_id,
                conflict=result.conflict,
                conflict_code=result.conflict_code,
                error=None
                if result.error_code is None
                else wire.ItemError(result.error_code, result.error_message or ""),
            )
            for result in results
        )
    ).to_json()
