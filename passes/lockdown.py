"""Lockdown zones as the decision sees them: a building, grid or compound under a level.

Levels (the field's words): 封控 ``sealed`` (no exits), 管控 ``controlled`` (exits by the
rules), 防范 ``precaution`` (normal). Only ``sealed`` changes a verdict: while a sealed lock is
in force over a household, every exit of that household is refused with the scope's code
(``zone_sealed_building`` / ``_grid`` / ``_compound``), exempt households included (the field
let medical staff out of a sealed building only by a supervisor's override, which works here
as for any household rule). 管控 and 防范 decide by the rules as usual.

A :class:`ZoneLock` travels inside :class:`passes.HouseholdState` (``zones``), so the server
and an offline bundle give the same verdicts; it holds no names, only the level, the scope
and the period ``[starts_at, ends_at)`` (``ends_at`` None: until lifted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from passes.codes import Code
from passes.timefmt import format_utc, parse_utc


class ZoneLevel(StrEnum):
    """How strictly a zone is locked down."""

    SEALED = "sealed"  # 封控
    CONTROLLED = "controlled"  # 管控
    PRECAUTION = "precaution"  # 防范


class ZoneScope(StrEnum):
    """What a lock covers (the site hierarchy's levels)."""

    BUILDING = "building"  # 楼栋
    COMPOUND = "compound"  # 小区
    GRID = "grid"  # 网格


SEALED_CODES: Mapping[ZoneScope, Code] = {
    ZoneScope.BUILDING: Code.ZONE_SEALED_BUILDING,
    ZoneScope.COMPOUND: Code.ZONE_SEALED_COMPOUND,
    ZoneScope.GRID: Code.ZONE_SEALED_GRID,
}
"""The refusal code of a sealed lock of each scope (the reason names the scope)."""

_WIDTH = {ZoneScope.BUILDING: 0, ZoneScope.COMPOUND: 1, ZoneScope.GRID: 2}


@dataclass(frozen=True)
class ZoneLock:
    """One lock over the household's building, compound or grid, in force on
    ``[starts_at, ends_at)`` (``ends_at`` None: until the office lifts it)."""

    level: ZoneLevel
    scope: ZoneScope
    starts_at: datetime
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("a zone lock must end after it starts")

    def in_force(self, now: datetime) -> bool:
        """True iff the lock holds at ``now``."""
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "level": self.level.value,
            "scope": self.scope.value,
            "starts_at": format_utc(self.starts_at),
            "ends_at": format_utc(self.ends_at),
        }

    @classmethod
    def from_dict(cls, data: object) -> ZoneLock:
        """Inverse of :meth:`to_dict`; raises ValueError on bad data (unknown keys too)."""
        if not isinstance(data, dict) or set(data) != {"level", "scope", "starts_at", "ends_at"}:
            raise ValueError("a zone lock is {level, scope, starts_at, ends_at}")
        starts_at = parse_utc(data["starts_at"])
        if starts_at is None:
            raise ValueError("a zone lock needs starts_at")
        return cls(
            level=ZoneLevel(data["level"]),
            scope=ZoneScope(data["scope"]),
            starts_at=starts_at,
            ends_at=parse_utc(data["ends_at"]),
        )


def sealing_lock(locks: Iterable[ZoneLock], now: datetime) -> ZoneLock | None:
    """The sealed lock that decides at ``now``: of those in force, the one that ends last
    (None counts as never), then the widest scope. None when no sealed lock holds."""
    held = [lock for lock in locks if lock.level is ZoneLevel.SEALED and lock.in_force(now)]
    if not held:
        return None
    return max(
        held,
        key=lambda lock: (
            lock.ends_at is None,
            lock.ends_at or lock.starts_at,
            _WIDTH[lock.scope],
        ),
    )
