"""A household's decision state: a small immutable value the rules read and crossings advance.

The server keeps one per household row (locked while deciding); a scanner keeps a copy
from its bundle and advances it with its own offline crossings. Both use
:func:`advance`, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from passes.lockdown import ZoneLock
from passes.rules import RuleSet, WindowKind
from passes.timefmt import format_utc, parse_utc


class Direction(StrEnum):
    """Which way a person crosses the gate."""

    OUT = "out"
    IN = "in"


class HouseholdStatus(StrEnum):
    """Office-set status of a household."""

    NORMAL = "normal"
    QUARANTINED = "quarantined"
    EXEMPT = "exempt"


@dataclass(frozen=True)
class HouseholdState:
    """What the rules need to know about one household, and nothing personal.

    ``out_since`` has one entry per member currently out (oldest first);
    ``exits`` the allowed exits that may still count towards a quota window (one per person
    when the rules count people). ``zones``: the lockdown-zone locks over the household's
    building, compound or grid that are in force or still to come (:mod:`passes.lockdown`).
    """

    household_id: int
    generation: int = 1
    status: HouseholdStatus = HouseholdStatus.NORMAL
    quarantine_until: datetime | None = None
    out_since: tuple[datetime, ...] = ()
    exits: tuple[datetime, ...] = ()
    zones: tuple[ZoneLock, ...] = ()

    def is_quarantined(self, now: datetime) -> bool:
        """Quarantine ends by itself at ``quarantine_until`` (None: until lifted)."""
        if self.status is not HouseholdStatus.QUARANTINED:
            return False
        return self.quarantine_until is None or now < self.quarantine_until

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (opaque ids and times only)."""
        return {
            "household_id": self.household_id,
            "generation": self.generation,
            "status": self.status.value,
            "quarantine_until": format_utc(self.quarantine_until),
            "out_since": [format_utc(t) for t in self.out_since],
            "exits": [format_utc(t) for t in self.exits],
            # Only when set: states without locks keep the JSON (and bundle hashes) they had.
            **({"zones": [lock.to_dict() for lock in self.zones]} if self.zones else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HouseholdState:
        """Inverse of :meth:`to_dict`; raises ValueError on bad data."""
        try:
            return cls(
                household_id=int(data["household_id"]),
                generation=int(data.get("generation", 1)),
                status=HouseholdStatus(data.get("status", "normal")),
                quarantine_until=parse_utc(data.get("quarantine_until")),
                out_since=tuple(_times(data.get("out_since", ()))),
                exits=tuple(_times(data.get("exits", ()))),
                zones=tuple(ZoneLock.from_dict(item) for item in _list(data.get("zones", []))),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad household state: {exc}") from None


def advance(
    state: HouseholdState,
    direction: Direction,
    allowed: bool,
    at: datetime,
    rules: RuleSet,
    people: int = 1,
) -> HouseholdState:
    """The state after a crossing of ``people`` persons at ``at``. Refused crossings change
    nothing.

    An allowed exit adds n people out and n quota exits, an allowed entry brings the n
    longest-out people home (fewer if fewer are out), where n is ``rules.units(people)``: 1
    when the rules count households. Exits too old to count in any window are dropped so the
    value stays small.
    """
    if not allowed:
        return state
    units = rules.units(people)
    if direction is Direction.OUT:
        exits = tuple(sorted((*prune_exits(state.exits, rules, at), *(at,) * units)))
        return replace(
            state, out_since=tuple(sorted((*state.out_since, *(at,) * units))), exits=exits
        )
    return replace(state, out_since=state.out_since[units:])


def prune_exits(exits: tuple[datetime, ...], rules: RuleSet, now: datetime) -> tuple[datetime, ...]:
    """Drop exits that can no longer count towards the quota at ``now`` or later."""
    if rules.quota is None:
        return ()
    if rules.quota.window is WindowKind.ROLLING_HOURS:
        horizon = now - timedelta(hours=rules.quota.length)
    else:  # a day longer than the window, whatever the zone's offset
        horizon = now - timedelta(days=rules.quota.length + 1)
    return tuple(t for t in exits if t > horizon)


def _list(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise TypeError("zones must be a list")
    return items


def _times(items: Any) -> list[datetime]:
    times = [parse_utc(item) for item in items]
    if any(t is None for t in times):
        raise ValueError("null time in list")
    return sorted(t.astimezone(UTC) for t in times if t is not None)
