"""UTC timestamps in JSON: ISO 8601 with an explicit offset, whole seconds or better."""

from __future__ import annotations

from datetime import UTC, datetime


def format_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``; None stays None. ``moment`` MUST be aware."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(text: object) -> datetime | None:
    """Inverse of :func:`format_utc`; refuses naive times. None stays None."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError("timestamp must be a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)
