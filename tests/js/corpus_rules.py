"""Corpus cases: health and household rules at their edges (every rule kind, zone edges)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from corpus_builder import Corpus
from corpus_keys import ACTIVE, at, make_pass

from passes import (
    Direction,
    HouseholdState,
    HouseholdStatus,
    Override,
    Quota,
    RuleSet,
    TemperatureRules,
    WindowKind,
)

ISSUED = at("2026-01-01T00:00:00")
UNTIL = at("2026-12-31T23:59:59")
OVERRIDE = Override(supervisor="李队长", reason="送医")
MS = timedelta(milliseconds=1)
HOUSEHOLD = 3001
_, PASS = make_pass(
    ACTIVE, pass_id=b"\xb0" * 12, household_id=HOUSEHOLD, issued_at=ISSUED, valid_until=UNTIL
)

ZONES = (
    "Asia/Shanghai",
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
)
"""No DST (Shanghai, UTC, Kolkata at +05:30), DST by an hour (Berlin, New York, St John's at
-03:30), DST by half an hour (Lord Howe), and +12:45/+13:45 (Chatham)."""


def local(zone: str, text: str, *, fold: int = 0) -> datetime:
    """The UTC instant of local wall time ``text`` in ``zone`` (fold as Python reads it)."""
    naive = datetime.fromisoformat(text)
    return naive.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


@cache
def transitions(zone: str, year: int = 2026) -> list[datetime]:
    """The instants (UTC, to the second) at which ``zone`` changes its offset in ``year``."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=1)
    while moment < end:
        nxt = moment + step
        if moment.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            low, high = moment, nxt
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        moment = nxt
    return found


def household(**values: object) -> HouseholdState:
    return HouseholdState(household_id=HOUSEHOLD, **values)  # type: ignore[arg-type]


TEMPERATURES: tuple[object, ...] = (
    None,
    339,
    340,
    341,
    365,
    372,
    373,
    374,
    429,
    430,
    431,
    0,
    -1,
    -373,
    10**12,
    2**53 + 2,
    36.6,
    365.5,
    -0.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    "365",
    "",
    "36.5",
    True,
    False,
    [365],
    {"t": 365},
)


def add_health(corpus: Corpus) -> None:
    """Temperature readings x required or not x custom limits x direction."""
    custom = TemperatureRules(
        required=True,
        fever_threshold_tenths=375,
        plausible_min_tenths=350,
        plausible_max_tenths=420,
    )
    now = at("2026-11-22T03:00:00")
    for name, temperature_rules in (
        ("default", TemperatureRules()),
        ("optional", TemperatureRules(required=False)),
        ("custom", custom),
        ("threshold-at-max", TemperatureRules(fever_threshold_tenths=430)),
    ):
        rules = RuleSet(temperature=temperature_rules)
        for value in TEMPERATURES:
            for direction in Direction:
                corpus.add_decide(
                    f"health/{name}/{value!r}/{direction.value}",
                    PASS,
                    rules=rules,
                    now=now,
                    household=household(),
                    direction=direction,
                    temperature=value,
                )
            corpus.add_decide(
                f"health/{name}/{value!r}/override",
                PASS,
                rules=rules,
                now=now,
                household=household(exits=(now - timedelta(hours=1),)),
                temperature=value,
                override=OVERRIDE,
            )


def add_rolling_edges(corpus: Corpus) -> None:
    """Rolling-hour quotas: an exit exactly L hours ago no longer counts; 1 ms later it does."""
    now = at("2026-11-22T09:30:00.250")
    for length, exits in ((1, 1), (12, 1), (24, 2), (72, 1), (8784, 1)):
        rules = RuleSet(quota=Quota(exits=exits, window=WindowKind.ROLLING_HOURS, length=length))
        for label, delta in (
            ("at-edge", timedelta(0)),
            ("1ms-inside", -MS),
            ("1ms-outside", MS),
            ("future", -timedelta(hours=length, minutes=-1)),
        ):
            exit_at = now - timedelta(hours=length) + delta
            if label == "future":
                exit_at = now + timedelta(minutes=1)
            extra = () if exits == 1 else (now - timedelta(minutes=1),)
            state = household(exits=tuple(sorted((exit_at, *extra))))
            for direction in Direction:
                corpus.add_decide(
                    f"rolling/{length}x{exits}/{label}/{direction.value}",
                    PASS,
                    rules=rules,
                    now=now,
                    household=state,
                    direction=direction,
                )


def add_quarantine(corpus: Corpus) -> None:
    """Quarantine with and without an end, ending at local midnight (shown as the day before)."""
    for zone in ("Asia/Shanghai", "Europe/Berlin", "America/New_York"):
        rules = RuleSet(timezone=zone)
        now = local(zone, "2026-11-22T09:00:00")
        ends = {
            "none": None,
            "now": now,
            "now+1ms": now + MS,
            "midnight": local(zone, "2026-11-30T00:00:00"),
            "midnight+1ms": local(zone, "2026-11-30T00:00:00") + MS,
            "afternoon": local(zone, "2026-11-25T15:30:00"),
            "dst-midnight": local(zone, "2027-03-28T00:00:00"),
            "past": now - timedelta(days=1),
        }
        for name, until in ends.items():
            for status in HouseholdStatus:
                state = household(status=status, quarantine_until=until)
                for direction in Direction:
                    corpus.add_decide(
                        f"quarantine/{zone}/{name}/{status.value}/{direction.value}",
                        PASS,
                        rules=rules,
                        now=now,
                        household=state,
                        direction=direction,
                    )
                corpus.add_decide(
                    f"quarantine/{zone}/{name}/{status.value}/override",
                    PASS,
                    rules=rules,
                    now=now,
                    household=state,
                    override=OVERRIDE,
                )
            with_quota = household(
                status=HouseholdStatus.QUARANTINED,
                quarantine_until=until,
                exits=(now - timedelta(days=1),),
            )
            corpus.add_decide(
                f"quarantine/{zone}/{name}/and-quota",
                PASS,
                rules=rules,
                now=now,
                household=with_quota,
            )


def add_people_out(corpus: Corpus) -> None:
    """People out at once, entries, entries without exits, late returns (max outside)."""
    now = at("2026-11-22T06:00:00")
    for max_out in (1, 2, 3):
        for limit in (None, 30, 240):
            rules = RuleSet(
                max_out_at_once=max_out, max_outside_minutes=limit, quota=Quota(exits=5, length=1)
            )
            for count in range(4):
                offsets = [
                    timedelta(minutes=30),
                    timedelta(minutes=30) + MS,
                    timedelta(minutes=240),
                    timedelta(hours=10),
                ][:count]
                state = household(
                    out_since=tuple(sorted(now - o for o in offsets)),
                    exits=tuple(sorted(now - o for o in offsets)),
                )
                for direction in Direction:
                    corpus.add_decide(
                        f"out/{max_out}/{limit}/{count}/{direction.value}",
                        PASS,
                        rules=rules,
                        now=now,
                        household=state,
                        direction=direction,
                    )
                corpus.add_decide(
                    f"out/{max_out}/{limit}/{count}/override",
                    PASS,
                    rules=rules,
                    now=now,
                    household=state,
                    override=OVERRIDE,
                )
    # An entry refused for fever changes nothing; an override entry notes both.
    rules = RuleSet(max_outside_minutes=60)
    state = household(out_since=(now - timedelta(hours=2),), exits=(now - timedelta(hours=2),))
    for temperature in (380, None, 500):
        for override in (None, OVERRIDE):
            corpus.add_decide(
                f"out/entry-{temperature}-{override is not None}",
                PASS,
                rules=rules,
                now=now,
                household=state,
                direction=Direction.IN,
                temperature=temperature,
                override=override,
            )


def add_closed(corpus: Corpus) -> None:
    """全封闭: no exit for any status but exempt, with every other rule as well; entries."""
    now = at("2026-11-22T06:00:00")
    quarantine = now + timedelta(days=3)
    for quota in (None, Quota(exits=1, length=3)):
        for status in HouseholdStatus:
            state = household(
                status=status,
                quarantine_until=quarantine if status is HouseholdStatus.QUARANTINED else None,
            )
            for direction in Direction:
                for override in (None, OVERRIDE):
                    name = f"closed/{quota is not None}/{status.value}/{direction.value}"
                    corpus.add_decide(
                        f"{name}/{override is not None}",
                        PASS,
                        rules=RuleSet(quota=quota, closed=True),
                        now=now,
                        household=state,
                        direction=direction,
                        override=override,
                    )


def add_microseconds(corpus: Corpus) -> None:
    """Times with microseconds (a scanner's crossing times carry them): edges 1 µs apart."""
    us = timedelta(microseconds=1)
    now = at("2026-11-22T09:30:00") + timedelta(microseconds=123_457)
    for window, length in ((WindowKind.ROLLING_HOURS, 24), (WindowKind.CALENDAR_DAYS, 1)):
        rules = RuleSet(
            timezone="Europe/Berlin", quota=Quota(exits=1, window=window, length=length)
        )
        if window is WindowKind.ROLLING_HOURS:
            edge = now - timedelta(hours=length)
        else:
            edge = local("Europe/Berlin", "2026-11-22T00:00:00")
        for label, exit_at in (("edge-1us", edge - us), ("edge", edge), ("edge+1us", edge + us)):
            state = household(exits=(exit_at,), out_since=(exit_at,))
            for direction in Direction:
                corpus.add_decide(
                    f"micro/{window.value}/{label}/{direction.value}",
                    PASS,
                    rules=rules,
                    now=now,
                    household=state,
                    direction=direction,
                )
    rules = RuleSet(max_outside_minutes=60, quota=Quota(exits=3, length=1))
    for label, delta in (("-1us", -us), ("0", timedelta(0)), ("+1us", us)):
        late = household(out_since=(now - timedelta(minutes=60) + delta,))
        corpus.add_decide(
            f"micro/overdue{label}",
            PASS,
            rules=rules,
            now=now,
            household=late,
            direction=Direction.IN,
        )
        until = household(status=HouseholdStatus.QUARANTINED, quarantine_until=now + delta)
        corpus.add_decide(
            f"micro/quarantine{label}", PASS, rules=RuleSet(), now=now, household=until
        )
    for micro in (1, 999, 1_000, 999_999):
        moment = at("2026-11-22T02:00:00") + timedelta(microseconds=micro)
        state = household(exits=(moment - timedelta(hours=20),))
        corpus.add_decide(
            f"micro/now+{micro}us",
            PASS,
            rules=RuleSet(quota=Quota(window=WindowKind.ROLLING_HOURS, length=24)),
            now=moment,
            household=state,
        )
