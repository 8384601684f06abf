"""A community's outing rules: a versioned value, serialised as JSON, validated strictly.

JSON shape (every key optional except ``version``; defaults shown)::

    {
      "version": 1,
      "timezone": "Asia/Shanghai",
      "quota": {"exits": 1, "window": "calendar_days", "length": 3},   // or null: no quota
      "max_out_at_once": 1,
      "exit_hours": {"start": "06:00", "end": "20:00"},                 // or null: any time
      "max_outside_minutes": null,                                      // overdue after this
      "temperature": {"required": true, "fever_threshold_tenths": 373,
                      "plausible_min_tenths": 340, "plausible_max_tenths": 430},
      "closed": false,                                                  // 全封闭
      "count": "households"                                             // or "people"
    }

``count`` says what the quota and ``max_out_at_once`` count: ``households`` (一户一次: each
scan is one outing, whoever goes) or ``people`` (一人一次: the volunteer enters how many
people cross, and an exit of n people uses n of the quota and puts n people out).

``vehicles`` (only when set) is the rule for cars arriving without a vehicle pass, by the plate
the volunteer types: ``{"local_prefixes": ["鲁E"], "local": "allow", "outside": "refuse"}``.
A plate starting with a local prefix (a province, or a province and its authority letter) is
local: ``allow`` (let in, plate logged) or ``refuse``; any other plate is outside:
``register`` (let in, plate logged as outside) or ``refuse`` (外地车辆禁止进入). Exits are never
refused for a plate (see :mod:`passes.vehicle_decision`).

``window`` is ``calendar_days`` (local dates: 1 per 3 days means an exit on the 22nd
allows the next on the 25th) or ``rolling_hours`` (the last ``length`` hours).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from passes.codes import Code
from passes.errors import PassError
from passes.plates import PROVINCES

RULE_PROBLEMS = frozenset(
    {
        "not_json",  # line, column
        "not_object",
        "unknown_field",
        "required",
        "not_text",
        "not_boolean",
        "out_of_range",  # low, high
        "bad_choice",  # choices
        "unknown_timezone",  # value
        "bad_clock",
        "start_equals_end",
        "fever_outside_plausible",
        "bad_plate_prefix",  # value
        "too_many",  # high
    }
)
"""The stable codes of :attr:`RuleSetError.problem` (comments: their ``params``)."""


class RuleSetError(PassError):
    """Rule JSON was refused; ``field`` names the offending field (e.g. ``quota.exits``).

    ``problem`` is a stable code from :data:`RULE_PROBLEMS` and ``params`` its parameters,
    for callers that word it in the user's language; ``message`` is English (logs, tests).
    """

    def __init__(self, field_name: str, problem: str, message: str, **params: str | int) -> None:
        if problem not in RULE_PROBLEMS:
            raise ValueError(f"unknown rule problem {problem!r}")
        super().__init__(Code.BAD_FORMAT, "bad_rules", f"{field_name}: {message}")
        self.field = field_name
        self.problem = problem
        self.params: dict[str, str | int] = params
        self.message = message


MAX_PLATE_PREFIXES = 40
_PLATE_PREFIX = re.compile(f"[{PROVINCES}][A-HJ-Z]?")
"""A local plate prefix: a province abbreviation, optionally with an authority letter."""

DEFAULT_TIMEZONE = "Asia/Shanghai"
"""The zone of a rule set that names none (the office's own default is its settings')."""


class CountKind(StrEnum):
    """What the quota and ``max_out_at_once`` count."""

    HOUSEHOLDS = "households"
    PEOPLE = "people"


class WindowKind(StrEnum):
    """How the outing quota's window is measured."""

    CALENDAR_DAYS = "calendar_days"
    ROLLING_HOURS = "rolling_hours"


@dataclass(frozen=True)
class Quota:
    """At most ``exits`` allowed exits per household per window of ``length`` days/hours."""

    exits: int = 1
    window: WindowKind = WindowKind.CALENDAR_DAYS
    length: int = 3


@dataclass(frozen=True)
class ExitHours:
    """Local times between which exits are allowed; ``start > end`` crosses midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """True iff ``local`` (wall-clock time) is inside the window; the end is exclusive."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class TemperatureRules:
    """Fever threshold and plausible sensor range, integer tenths of a degree Celsius."""

    required: bool = True
    fever_threshold_tenths: int = 373
    plausible_min_tenths: int = 340
    plausible_max_tenths: int = 430


class LocalPlates(StrEnum):
    """What a car with a local plate and no vehicle pass may do at an entry."""

    ALLOW = "allow"
    REFUSE = "refuse"


class OutsidePlates(StrEnum):
    """What a car with an outside plate and no vehicle pass may do at an entry."""

    REGISTER = "register"
    REFUSE = "refuse"


@dataclass(frozen=True)
class VehicleRules:
    """The rule for cars without a vehicle pass (see the module doc's ``vehicles``)."""

    local_prefixes: tuple[str, ...] = ()
    local: LocalPlates = LocalPlates.ALLOW
    outside: OutsidePlates = OutsidePlates.REFUSE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "local_prefixes": list(self.local_prefixes),
            "local": self.local.value,
            "outside": self.outside.value,
        }


@dataclass(frozen=True)
class RuleSet:
    """One version of a community's rules. Every crossing records the version that decided it."""

    version: int = 1
    timezone: str = DEFAULT_TIMEZONE
    quota: Quota | None = field(default_factory=Quota)
    max_out_at_once: int = 1
    exit_hours: ExitHours | None = None
    max_outside_minutes: int | None = None
    temperature: TemperatureRules = field(default_factory=TemperatureRules)
    closed: bool = False
    """全封闭: no household goes out (exempt ones excepted); entries stay allowed."""
    vehicles: VehicleRules | None = None
    """Cars without a vehicle pass, by plate (None: every typed plate is let in, logged)."""
    count: CountKind = CountKind.HOUSEHOLDS
    """一户一次 (households) or 一人一次 (people): see the module doc."""

    def units(self, people: int) -> int:
        """How many quota exits and people out a crossing of ``people`` persons makes."""
        return people if self.count is CountKind.PEOPLE else 1

    @property
    def zone(self) -> ZoneInfo:
        """The community's time zone (local dates and exit hours are read in it)."""
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :func:`rules_from_dict` inverts it exactly."""
        return {
            "version": self.version,
            "timezone": self.timezone,
            "quota": None
            if self.quota is None
            else {
                "exits": self.quota.exits,
                "window": self.quota.window.value,
                "length": self.quota.length,
            },
            "max_out_at_once": self.max_out_at_once,
            "exit_hours": None
            if self.exit_hours is None
            else {
                "start": self.exit_hours.start.strftime("%H:%M"),
                "end": self.exit_hours.end.strftime("%H:%M"),
            },
            "max_outside_minutes": self.max_outside_minutes,
            "temperature": {
                "required": self.temperature.required,
                "fever_threshold_tenths": self.temperature.fever_threshold_tenths,
                "plausible_min_tenths": self.temperature.plausible_min_tenths,
                "plausible_max_tenths": self.temperature.plausible_max_tenths,
            },
            # Only when set: rules without it keep the canonical JSON (and bundle hashes)
            # they had before the key existed.
            **({"closed": True} if self.closed else {}),
            **({"vehicles": self.vehicles.to_dict()} if self.vehicles is not None else {}),
            **({"count": self.count.value} if self.count is not CountKind.HOUSEHOLDS else {}),
        }

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, so equal rules give equal text)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    def describe_quota(self, lang: str = "zh") -> str:
        """The rule in one line for a printed card, e.g. ``每三天可外出一次``."""
        if self.quota is None:
            return "不限外出次数" if lang == "zh" else "No outing limit"
        q = self.quota
        if lang != "zh":
            unit = "days" if q.window is WindowKind.CALENDAR_DAYS else "hours"
            return f"{q.exits} outing(s) every {q.length} {unit}"
        # Counted things take 两, not 二 (每两天, 两次); one day is simply 每天.
        numerals = "零一两三四五六七八九十"
        count = numerals[q.length] if q.length <= 10 else str(q.length)
        times = numerals[q.exits] if q.exits <= 10 else str(q.exits)
        if q.window is WindowKind.CALENDAR_DAYS:
            period = "每天" if q.length == 1 else f"每{count}天"
        else:
            period = f"每{count}小时"
        return f"{period}可外出{times}次"


def rules_from_json(text: str) -> RuleSet:
    """Parse and validate rule JSON; raise :class:`RuleSetError` naming the bad field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleSetError(
            "(json)", "not_json", f"not valid JSON: {exc}", line=exc.lineno, column=exc.colno
        ) from None
    except TypeError as exc:
        raise RuleSetError(
            "(json)", "not_json", f"not valid JSON: {exc}", line=1, column=1
        ) from None
    return rules_from_dict(data)


def rules_from_dict(data: object) -> RuleSet:
    """Validate a decoded JSON object into a :class:`RuleSet`."""
    obj = _object(
        data,
        "(root)",
        {
            "version",
            "timezone",
            "quota",
            "max_out_at_once",
            "exit_hours",
            "max_outside_minutes",
            "temperature",
            "closed",
            "vehicles",
            "count",
        },
    )
    closed = obj.get("closed", False)
    if not isinstance(closed, bool):
        raise RuleSetError("closed", "not_boolean", "must be true or false")
    timezone = _str(obj.get("timezone", DEFAULT_TIMEZONE), "timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory
        raise RuleSetError(
            "timezone", "unknown_timezone", f"unknown time zone {timezone!r}", value=timezone
        ) from None
    if "version" not in obj:
        raise RuleSetError("version", "required", "is required")
    return RuleSet(
        version=_int(obj["version"], "version", 1, 2**31 - 1),
        timezone=timezone,
        quota=_quota(obj["quota"]) if "quota" in obj else Quota(),
        max_out_at_once=_int(obj.get("max_out_at_once", 1), "max_out_at_once", 1, 99),
        exit_hours=_exit_hours(obj.get("exit_hours")),
        max_outside_minutes=None
        if obj.get("max_outside_minutes") is None
        else _int(obj["max_outside_minutes"], "max_outside_minutes", 1, 60 * 24 * 30),
        temperature=_temperature(obj.get("temperature", {})),
        closed=closed,
        vehicles=_vehicles(obj.get("vehicles")),
        count=_count(obj.get("count", "households")),
    )


def _count(data: object) -> CountKind:
    try:
        return CountKind(_str(data, "count"))
    except ValueError:
        raise RuleSetError(
            "count", "bad_choice", "must be households or people", choices="households, people"
        ) from None


def _vehicles(data: object) -> VehicleRules | None:
    if data is None:
        return None
    obj = _object(data, "vehicles", {"local_prefixes", "local", "outside"})
    prefixes = obj.get("local_prefixes", [])
    if not isinstance(prefixes, list):
        raise RuleSetError("vehicles.local_prefixes", "not_text", "must be a list of text")
    if len(prefixes) > MAX_PLATE_PREFIXES:
        raise RuleSetError(
            "vehicles.local_prefixes", "too_many", "too many prefixes", high=MAX_PLATE_PREFIXES
        )
    for prefix in prefixes:
        text = _str(prefix, "vehicles.local_prefixes")
        if not _PLATE_PREFIX.fullmatch(text):
            raise RuleSetError(
                "vehicles.local_prefixes",
                "bad_plate_prefix",
                f"{text!r} is not a province abbreviation, optionally with its letter (鲁E)",
                value=text,
            )
    try:
        local = LocalPlates(_str(obj.get("local", "allow"), "vehicles.local"))
    except ValueError:
        raise RuleSetError(
            "vehicles.local", "bad_choice", "must be allow or refuse", choices="allow, refuse"
        ) from None
    try:
        outside = OutsidePlates(_str(obj.get("outside", "refuse"), "vehicles.outside"))
    except ValueError:
        raise RuleSetError(
            "vehicles.outside",
            "bad_choice",
            "must be register or refuse",
            choices="register, refuse",
        ) from None
    return VehicleRules(tuple(dict.fromkeys(prefixes)), local, outside)


def _quota(data: object) -> Quota | None:
    if data is None:
        return None
    obj = _object(data, "quota", {"exits", "window", "length"})
    window_text = _str(obj.get("window", "calendar_days"), "quota.window")
    try:
        window = WindowKind(window_text)
    except ValueError:
        raise RuleSetError(
            "quota.window",
            "bad_choice",
            "must be calendar_days or rolling_hours",
            choices="calendar_days, rolling_hours",
        ) from None
    limit = 366 if window is WindowKind.CALENDAR_DAYS else 24 * 366
    return Quota(
        exits=_int(obj.get("exits", 1), "quota.exits", 1, 100),
        window=window,
        length=_int(obj.get("length", 3), "quota.length", 1, limit),
    )


def _exit_hours(data: object) -> ExitHours | None:
    if data is None:
        return None
    obj = _object(data, "exit_hours", {"start", "end"})
    start = _clock(obj.get("start"), "exit_hours.start")
    end = _clock(obj.get("end"), "exit_hours.end")
    if start == end:
        raise RuleSetError(
            "exit_hours", "start_equals_end", "start equals end; use null for any time"
        )
    return ExitHours(start, end)


def _temperature(data: object) -> TemperatureRules:
    obj = _object(
        data,
        "temperature",
        {"required", "fever_threshold_tenths", "plausible_min_tenths", "plausible_max_tenths"},
    )
    required = obj.get("required", True)
    if not isinstance(required, bool):
        raise RuleSetError("temperature.required", "not_boolean", "must be true or false")
    low = _int(obj.get("plausible_min_tenths", 340), "temperature.plausible_min_tenths", 300, 450)
    high = _int(obj.get("plausible_max_tenths", 430), "temperature.plausible_max_tenths", 300, 450)
    fever = _int(
        obj.get("fever_threshold_tenths", 373), "temperature.fever_threshold_tenths", 300, 450
    )
    if not low < fever <= high:
        raise RuleSetError(
            "temperature.fever_threshold_tenths",
            "fever_outside_plausible",
            "must lie above plausible_min and at most plausible_max",
        )
    return TemperatureRules(required, fever, low, high)


def _object(data: object, name: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise RuleSetError(name, "not_object", "must be an object")
    for key in data:
        if key not in allowed:
            prefix = "" if name == "(root)" else f"{name}."
            raise RuleSetError(f"{prefix}{key}", "unknown_field", "unknown field")
    return data


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleSetError(
            name,
            "out_of_range",
            f"must be a whole number from {low} to {high}",
            low=low,
            high=high,
        )
    return value


def _str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise RuleSetError(name, "not_text", "must be text")
    return value


def _clock(value: object, name: str) -> time:
    text = _str(value, name)
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(hour, minute)
    except ValueError:
        raise RuleSetError(name, "bad_clock", "must be HH:MM, e.g. 06:00") from None
