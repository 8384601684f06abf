"""Corpus cases: lockdown zones (封控/管控/防范) over a household, at their edges."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from corpus_builder import Corpus
from corpus_rules import OVERRIDE, PASS, household, local

from passes import (
    Direction,
    ExitHours,
    HouseholdStatus,
    Quota,
    RuleSet,
    ZoneLevel,
    ZoneLock,
    ZoneScope,
)

US = timedelta(microseconds=1)


def _lock(level: ZoneLevel, scope: ZoneScope, starts: datetime, ends: datetime | None) -> ZoneLock:
    return ZoneLock(level=level, scope=scope, starts_at=starts, ends_at=ends)


def add_lockdown(corpus: Corpus) -> None:
    """Every level, scope and household status; the period's edges to the microsecond; locks
    back to back and overlapping; a seal with quota, hours, 全封闭 and overrides."""
    zone = "Asia/Shanghai"
    starts = local(zone, "2026-12-01T00:00:00")
    ends = local(zone, "2026-12-15T00:00:00")  # shown as （至 12-14）
    now = local(zone, "2026-12-05T10:00:00")
    rules = RuleSet(quota=Quota(exits=1, length=2))
    for level in ZoneLevel:
        for scope in ZoneScope:
            for status in HouseholdStatus:
                state = household(
                    status=status,
                    quarantine_until=ends + timedelta(days=3)
                    if status is HouseholdStatus.QUARANTINED
                    else None,
                    zones=(_lock(level, scope, starts, ends),),
                )
                for direction in Direction:
                    for override in (None, OVERRIDE):
                        corpus.add_decide(
                            f"lockdown/{level.value}/{scope.value}/{status.value}/"
                            f"{direction.value}/{override is not None}",
                            PASS,
                            rules=rules,
                            now=now,
                            household=state,
                            direction=direction,
                            override=override,
                        )
    sealed = ZoneLevel.SEALED
    for label, moment in (
        ("before-1us", starts - US),
        ("start", starts),
        ("end-1us", ends - US),
        ("end", ends),
    ):
        for until in (ends, None):
            state = household(zones=(_lock(sealed, ZoneScope.BUILDING, starts, until),))
            corpus.add_decide(
                f"lockdown/edge/{label}/{until is not None}",
                PASS,
                rules=rules,
                now=moment,
                household=state,
            )
    berlin = "Europe/Berlin"
    for zone_name in (zone, berlin):
        b_start = local(zone_name, "2026-10-20T00:00:00")
        b_end = local(zone_name, "2026-10-26T00:00:00")  # across Berlin's DST end
        g_end = local(zone_name, "2026-10-30T00:00:00")
        b_now = local(zone_name, "2026-10-24T09:00:00")
        zone_rules = RuleSet(
            timezone=zone_name,
            quota=Quota(exits=1, length=3),
            exit_hours=ExitHours(start=time(6), end=time(20)),
        )
        combos = {
            "back-to-back": (
                _lock(sealed, ZoneScope.BUILDING, b_start, b_end),
                _lock(sealed, ZoneScope.GRID, b_end, g_end),
            ),
            "overlap": (
                _lock(sealed, ZoneScope.GRID, b_start, g_end),
                _lock(sealed, ZoneScope.BUILDING, b_start, b_end),
            ),
            "same-end": (
                _lock(sealed, ZoneScope.BUILDING, b_start, b_end),
                _lock(sealed, ZoneScope.COMPOUND, b_start, b_end),
            ),
            "open-and-dated": (
                _lock(sealed, ZoneScope.BUILDING, b_start, b_end),
                _lock(sealed, ZoneScope.COMPOUND, b_start, None),
            ),
            "future": (_lock(sealed, ZoneScope.COMPOUND, b_now + timedelta(hours=5), g_end),),
            "controlled-then-sealed": (
                _lock(ZoneLevel.CONTROLLED, ZoneScope.GRID, b_start, None),
                _lock(sealed, ZoneScope.BUILDING, b_now + timedelta(days=1), g_end),
            ),
        }
        for name, locks in combos.items():
            for exits in ((), (b_now - timedelta(days=1),)):
                for closed in (False, True):
                    state = household(zones=locks, exits=exits)
                    corpus.add_decide(
                        f"lockdown/{zone_name}/{name}/{len(exits)}/{closed}",
                        PASS,
                        rules=RuleSet(
                            timezone=zone_name,
                            quota=zone_rules.quota,
                            exit_hours=zone_rules.exit_hours,
                            closed=closed,
                        ),
                        now=b_now,
                        household=state,
                    )
    # Health still comes first; entries home from a sealed building are let in.
    state = household(zones=(_lock(sealed, ZoneScope.BUILDING, starts, ends),), out_since=(now,))
    for temperature in (None, 380, 365):
        for direction in Direction:
            corpus.add_decide(
                f"lockdown/health/{temperature}/{direction.value}",
                PASS,
                rules=rules,
                now=now + timedelta(hours=1),
                household=state,
                direction=direction,
                temperature=temperature,
            )
