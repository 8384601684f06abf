"""Strict reading of one JSON object of the wire format (:mod:`passes.wire`), field by field.

Every refusal is a :class:`WireFormatError` naming the field by its path (``override.reason``,
``results[2].status``) with a short problem in English, for logs and API error bodies.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from passes.codes import REMEASURE_CODES
from passes.state import Direction
from passes.timefmt import parse_utc

Display = Literal["allow", "refuse", "remeasure"]
MAX_CODES = 20
"""Most codes in one list (codes, notes)."""
TIME_EXAMPLE = "2026-11-22T08:00:00Z"


class WireFormatError(ValueError):
    """A message does not follow its format: ``field`` (a path) and what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def display_of(allowed: bool, code: str | None) -> Display:
    """The screen for a verdict: ``allow``, ``remeasure`` (a code of
    :data:`passes.REMEASURE_CODES`: measure again) or ``refuse``."""
    if allowed:
        return "allow"
    return "remeasure" if code in REMEASURE_CODES else "refuse"


def as_list(value: object, name: str) -> list[Any]:
    """``value`` if it is a JSON list."""
    if not isinstance(value, list):
        raise WireFormatError(name, "must be a list")
    return value


class Fields:
    """One JSON object with exactly the fields ``keys`` (and ``format`` when ``fmt`` is given).

    Checked on construction: an object, ``format`` equal to ``fmt``, no field missing, no
    field unknown. ``optional`` names fields added to a format after its vectors were
    committed: they may be left out (read them with :meth:`absent_or_whole`). The typed
    getters check one field each.
    """

    def __init__(
        self,
        data: object,
        path: str,
        fmt: str | None,
        keys: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        self._prefix = f"{path}." if path else ""
        if not isinstance(data, Mapping):
            raise WireFormatError(path or "body", "must be a JSON object")
        self._data: Mapping[str, Any] = data
        allowed = set(keys) | set(optional)
        if fmt is not None:
            allowed.add("format")
            found = data.get("format", ...)
            if found is ...:
                raise WireFormatError(self._prefix + "format", f"is missing (expected {fmt!r})")
            if found != fmt:
                shown = repr(found)[:60]
                raise WireFormatError(self._prefix + "format", f"must be {fmt!r}, not {shown}")
        for key in keys:
            if key not in data:
                raise WireFormatError(self._prefix + key, "is missing")
        for key in data:
            if key not in allowed:
                raise WireFormatError(
                    self._prefix + str(key)[:60], "is not a field of this message"
                )

    def _name(self, key: str) -> str:
        return self._prefix + key

    def raw(self, key: str) -> object:
        """The field's JSON value, unchecked."""
        return self._data[key]

    def is_null(self, key: str) -> bool:
        """Whether the field is ``null``."""
        return self._data[key] is None

    def nested(self, key: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> Fields:
        """The field as an object with exactly ``keys`` (no ``format`` of its own), and
        perhaps the ``optional`` ones (see the class doc)."""
        return Fields(self._data[key], self._name(key), None, keys, optional)

    def has(self, key: str) -> bool:
        """Whether an optional field is present and not null."""
        return self._data.get(key) is not None

    def nested_list(self, key: str, keys: tuple[str, ...]) -> list[Fields]:
        """The field as a list of objects with exactly ``keys``."""
        items = as_list(self._data[key], self._name(key))
        return [Fields(item, f"{self._name(key)}[{i}]", None, keys) for i, item in enumerate(items)]

    def text(self, key: str, limit: int) -> str:
        """Non-empty text of at most ``limit`` characters that every database stores."""
        value = self._data[key]
        if not isinstance(value, str) or not value:
            raise WireFormatError(self._name(key), "must be non-empty text")
        return _checked_text(value, self._name(key), limit)

    def optional_text(self, key: str, limit: int) -> str | None:
        """:meth:`text` or null."""
        return None if self._data[key] is None else self.text(key, limit)

    def any_text(self, key: str, limit: int) -> str:
        """Text, possibly empty, of at most ``limit`` characters."""
        value = self._data[key]
        if not isinstance(value, str):
            raise WireFormatError(self._name(key), "must be text")
        return _checked_text(value, self._name(key), limit)

    def uuid(self, key: str) -> str:
        """A UUID, in its canonical lower-case hyphenated form."""
        value = self._data[key]
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
        raise WireFormatError(self._name(key), "must be a UUID string")

    def whole(self, key: str, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high`` (not a boolean)."""
        value = self._data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise WireFormatError(self._name(key), f"must be a whole number from {low} to {high}")
        return value

    def optional_whole(self, key: str, low: int, high: int) -> int | None:
        """:meth:`whole` or null."""
        return None if self._data[key] is None else self.whole(key, low, high)

    def absent_or_whole(self, key: str, low: int, high: int) -> int | None:
        """An optional field (see the class doc): absent or null is None, else :meth:`whole`."""
        return None if self._data.get(key) is None else self.whole(key, low, high)

    def flag(self, key: str) -> bool:
        """``true`` or ``false``."""
        value = self._data[key]
        if not isinstance(value, bool):
            raise WireFormatError(self._name(key), "must be true or false")
        return value

    def direction(self, key: str) -> Direction:
        """``in`` or ``out``."""
        value = self._data[key]
        if value not in ("in", "out"):
            raise WireFormatError(self._name(key), "must be 'in' or 'out'")
        return Direction(value)

    def temperature(self, key: str) -> int | float | str | None:
        """Integer tenths or null; another number or short text is kept as read (the decision
        calls it a sensor error)."""
        value = self._data[key]
        if isinstance(value, bool) or not isinstance(value, int | float | str | None):
            raise WireFormatError(self._name(key), "must be whole tenths of a degree or null")
        if isinstance(value, str):
            return _checked_text(value, self._name(key), 64)
        return value

    def time(self, key: str) -> datetime:
        """An ISO 8601 time with a zone, as aware UTC."""
        moment = self.optional_time(key)
        if moment is None:
            raise WireFormatError(self._name(key), f"must be an ISO 8601 time, e.g. {TIME_EXAMPLE}")
        return moment

    def optional_time(self, key: str) -> datetime | None:
        """:meth:`time` or null."""
        value = self._data[key]
        if value is None:
            return None
        try:
            moment = parse_utc(value)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
            moment = None
        if moment is None:
            raise WireFormatError(
                self._name(key), f"must be an ISO 8601 time with a zone, e.g. {TIME_EXAMPLE}"
            )
        return moment

    def optional_code(self, key: str) -> str | None:
        """A code (one word, at most 32 characters) or null."""
        value = self._data[key]
        return None if value is None else _code(value, self._name(key))

    def codes(self, key: str) -> tuple[str, ...]:
        """A list of at most :data:`MAX_CODES` codes (one word each)."""
        value = self._data[key]
        name = self._name(key)
        if not isinstance(value, list) or len(value) > MAX_CODES:
            raise WireFormatError(name, f"must be a list of at most {MAX_CODES} codes")
        return tuple(_code(item, name) for item in value)

    def display(self, key: str) -> Display:
        """``allow``, ``refuse`` or ``remeasure``."""
        value = self._data[key]
        if value == "allow":
            return "allow"
        if value == "refuse":
            return "refuse"
        if value == "remeasure":
            return "remeasure"
        raise WireFormatError(self._name(key), "must be 'allow', 'refuse' or 'remeasure'")

    def status(self, key: str) -> Literal["stored", "duplicate", "rejected"]:
        """``stored``, ``duplicate`` or ``rejected``."""
        value = self._data[key]
        if value == "stored":
            return "stored"
        if value == "duplicate":
            return "duplicate"
        if value == "rejected":
            return "rejected"
        raise WireFormatError(self._name(key), "must be 'stored', 'duplicate' or 'rejected'")


def _code(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise WireFormatError(name, "must be non-empty text")
    code = _checked_text(value, name, 32)
    if code.split() != [code]:
        raise WireFormatError(name, "a code is one word")
    return code


def _checked_text(value: str, name: str, limit: int) -> str:
    if len(value) > limit:
        raise WireFormatError(name, f"longer than {limit} characters")
    if "\x00" in value or not _encodable(value):
        # PostgreSQL refuses NUL; UTF-8 refuses lone surrogates ("\ud800" escapes).
        raise WireFormatError(name, "must not contain NUL characters or lone surrogates")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
