"""Corpus cases: lockdown zones (封控/管控/防范) over a household, at their edges."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from corpus_builder import Corpus
from corpus_bundle import _bundle  # the corpus' one bundle builder
from corpus_keys import ACTIVE, make_pass
from corpus_rules import OVERRIDE, PASS, household, local

from passes import (
    CountKind,
    Direction,
    ExitHours,
    HouseholdState,
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


def add_lockdown_bundles(corpus: Corpus) -> None:
    """An offline gate with a bundle whose household states carry zone locks (a building sealed
    now, a compound sealed from an hour on, a grid controlled) and rules counting people: the
    locks come from the bundle even when the device's own newer state is merged in."""
    generated = local("Asia/Shanghai", "2026-12-05T08:00:00")
    ends = local("Asia/Shanghai", "2026-12-08T00:00:00")
    issued, until = local("Asia/Shanghai", "2026-11-01T00:00:00"), ends + timedelta(days=30)
    made = {
        hid: make_pass(
            ACTIVE,
            pass_id=bytes([0xD0, hid % 256]) + bytes(10),
            household_id=hid,
            issued_at=issued,
            valid_until=until,
        )
        for hid in (4101, 4102, 4103)
    }
    states = (
        household_state(4101, (_lock(ZoneLevel.SEALED, ZoneScope.BUILDING, generated, ends),)),
        household_state(
            4102,
            (_lock(ZoneLevel.SEALED, ZoneScope.COMPOUND, generated + timedelta(hours=1), None),),
        ),
        household_state(4103, (_lock(ZoneLevel.CONTROLLED, ZoneScope.GRID, generated, None),)),
    )
    rules = RuleSet(version=7, quota=Quota(exits=3, length=1), count=CountKind.PEOPLE)
    corpus.bundles["lockdown"] = _bundle(
        generated,
        rules,
        states,
        (),
        tuple(fields for fields, _ in made.values()),
        {4101: "7-1-101"},
    )
    for hid, (_, text) in made.items():
        for minutes in (5, 65, 60 * 24 * 3):
            for direction in Direction:
                for override in (None, OVERRIDE):
                    corpus.add_bundle_case(
                        f"bundle/lockdown/{hid}/{minutes}m/{direction.value}/"
                        f"{override is not None}",
                        "lockdown",
                        text,
                        now=generated + timedelta(minutes=minutes),
                        direction=direction,
                        override=override,
                    )
        mine = HouseholdState(household_id=hid, out_since=(generated,), exits=(generated,))
        corpus.add_bundle_case(
            f"bundle/lockdown/{hid}/local",
            "lockdown",
            text,
            now=generated + timedelta(minutes=90),
            local=mine,
        )


def household_state(household_id: int, zones: tuple[ZoneLock, ...]) -> HouseholdState:
    return HouseholdState(household_id=household_id, zones=zones)
