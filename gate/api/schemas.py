"""Validation of the scanner API's JSON bodies, and the JSON shape of its answers.

Every refusal is an :class:`ApiError` with a stable code and a message naming the
field, answered as 4xx: bad input never causes a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from gate.crossings.models import Crossing
from gate.crossings.operations import OfflineClaim, ScanRequest
from passes import Code, Direction, Override, describe, format_utc, parse_utc

MAX_BATCH = 500
MAX_CLOCK_SKEW = timedelta(days=400)


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


def parse_scan(body: object, *, now: datetime) -> ScanRequest:
    """A scan request from JSON; raises :class:`ApiError` naming the first bad field."""
    data = _object(body, "body")
    return ScanRequest(
        client_id=_uuid(data.get("id"), "id"),
        pass_text=_text(data.get("pass"), "pass", 512),
        direction=_direction(data.get("direction")),
        temperature=data.get("temperature"),
        scanned_at=_time(data.get("scanned_at"), "scanned_at", now),
        operator=_optional_text(data.get("operator"), "operator", 64),
        override=_override(data.get("override")),
        latency_ms=_optional_int(data.get("latency_ms"), "latency_ms", 0, 3_600_000),
    )


def parse_offline_claim(body: object) -> OfflineClaim:
    """The scanner's own verdict on an offline crossing."""
    data = _object(body, "verdict")
    allowed = data.get("allowed")
    if not isinstance(allowed, bool):
        raise bad("verdict.allowed", "must be true or false")
    return OfflineClaim(
        allowed=allowed,
        code=_optional_text(data.get("code"), "verdict.code", 32),
        codes=_codes(data.get("codes", []), "verdict.codes"),
        notes=_codes(data.get("notes", []), "verdict.notes"),
        rule_version=_int(data.get("rule_version"), "verdict.rule_version", 0, 2**31 - 1),
    )


def _codes(value: object, name: str) -> tuple[str, ...]:
    """A list of codes (stored space-separated, so a code is one word)."""
    if not isinstance(value, list) or len(value) > 20:
        raise bad(name, "must be a list of at most 20 codes")
    codes = tuple(_text(code, name, 32) for code in value)
    if any(len(code.split()) != 1 for code in codes):
        raise bad(name, "a code is one word")
    return codes


def batch_items(body: object) -> list[object]:
    """The list of uploaded crossings, at most :data:`MAX_BATCH`."""
    data = _object(body, "body")
    items = data.get("crossings")
    if not isinstance(items, list):
        raise bad("crossings", "must be a list")
    if len(items) > MAX_BATCH:
        raise ApiError(413, "batch_too_large", f"at most {MAX_BATCH} crossings per batch")
    return items


def item_id(item: object) -> str | None:
    """The client UUID of an uploaded item, if it has a valid one."""
    if isinstance(item, dict):
        try:
            return _uuid(item.get("id"), "id")
        except ApiError:
            return None
    return None


def verdict_json(crossing: Crossing, timezone: str) -> dict[str, Any]:
    """A stored crossing's verdict as the scanner shows it (same for replays)."""
    known = {code.value for code in Code}
    notes = tuple(Code(n) for n in crossing.flags.split() if n in known)
    code = Code(crossing.code) if crossing.code is not None and crossing.code in known else None
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
    return {
        "allowed": crossing.allowed,
        "display": _display(crossing),
        "code": crossing.code,
        "codes": crossing.codes.split(),
        "notes": crossing.flags.split(),
        "reason_zh": reasons["zh"],
        "reason_en": reasons["en"],
        "next_exit_at": format_utc(crossing.next_exit_at),
        "rule_version": crossing.rule_version,
    }


def _display(crossing: Crossing) -> str:
    if crossing.allowed:
        return "allow"
    remeasure = {Code.SENSOR_ERROR.value, Code.NO_TEMPERATURE.value}
    return "remeasure" if crossing.code in remeasure else "refuse"


def _object(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise bad(name, "must be a JSON object")
    return value


def _uuid(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise bad(name, "must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise bad(name, "must be a UUID string") from None


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise bad(name, "must be non-empty text")
    if len(value) > limit:
        raise bad(name, f"longer than {limit} characters")
    if not _storable(value):
        raise bad(name, "must not contain NUL characters or lone surrogates")
    return value


def _storable(value: str) -> bool:
    """Text every database takes: PostgreSQL refuses NUL, UTF-8 refuses lone surrogates."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_text(value: object, name: str, limit: int) -> str | None:
    return None if value is None else _text(value, name, limit)


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(name, f"must be a whole number from {low} to {high}")
    return value


def _optional_int(value: object, name: str, low: int, high: int) -> int | None:
    return None if value is None else _int(value, name, low, high)


def _direction(value: object) -> Direction:
    try:
        return Direction(str(value))
    except ValueError:
        raise bad("direction", "must be 'in' or 'out'") from None


def _time(value: object, name: str, now: datetime) -> datetime:
    try:
        moment = parse_utc(value)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        moment = None
    if moment is None:
        raise bad(name, "must be an ISO 8601 time with a zone, e.g. 2026-11-22T08:00:00Z")
    if abs(moment - now) > MAX_CLOCK_SKEW:
        raise bad(name, "is implausibly far from the server's time")
    return moment.astimezone(UTC)


def _override(value: object) -> Override | None:
    if value is None:
        return None
    data = _object(value, "override")
    try:
        return Override(
            supervisor=_text(data.get("supervisor"), "override.supervisor", 64),
            reason=_text(data.get("reason"), "override.reason", 500),
        )
    except ValueError as exc:
        raise bad("override", str(exc)) from None


def scan_response(
    crossing: Crossing, *, replay: bool, household_label: str | None, timezone: str
) -> dict[str, Any]:
    """The answer to ``POST /api/v1/scans``."""
    return {
        "id": crossing.client_id,
        "crossing_id": crossing.id,
        "replay": replay,
        "verdict": verdict_json(crossing, timezone),
        "household_label": household_label,
        "next_exit_at": format_utc(crossing.next_exit_at),
    }
