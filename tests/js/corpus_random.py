"""Corpus cases: seeded random scenarios over every rule kind, zone and state shape.

The seed is fixed, so the scenarios (and the corpus file) are the same on every run. Times are
drawn around the instants where code most often goes wrong: zone offset changes, local
midnights, window edges (to the millisecond).
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from corpus_builder import Corpus
from corpus_keys import ACTIVE, PERIOD, RETIRED, SHARED, at, make_pass
from corpus_rules import ZONES, local, transitions

from passes import (
    Direction,
    ExitHours,
    HouseholdState,
    HouseholdStatus,
    Override,
    Quota,
    RuleSet,
    TemperatureRules,
    WindowKind,
)
from passes.schedule import local_midnight

SEED = 20261122
ISSUED = at("2026-01-01T00:00:00")
UNTIL = at("2026-12-31T23:59:59")
MS = timedelta(milliseconds=1)


def _rules(rng: random.Random) -> RuleSet:
    zone = rng.choice(ZONES)
    quota: Quota | None
    roll = rng.random()
    if roll < 0.15:
        quota = None
    elif roll < 0.6:
        quota = Quota(
            exits=rng.choice((1, 1, 2, 3)),
            window=WindowKind.CALENDAR_DAYS,
            length=rng.choice((1, 2, 3, 3, 7, 14)),
        )
    else:
        quota = Quota(
            exits=rng.choice((1, 1, 2)),
            window=WindowKind.ROLLING_HOURS,
            length=rng.choice((1, 6, 24, 48, 72)),
        )
    hours = rng.choice(
        (
            None,
            None,
            ("06:00", "20:00"),
            ("22:00", "06:00"),
            ("02:30", "04:00"),
            ("01:30", "02:30"),
            ("00:00", "12:00"),
            ("07:15", "07:45"),
        )
    )
    temperature = rng.choice(
        (
            TemperatureRules(),
            TemperatureRules(),
            TemperatureRules(required=False),
            TemperatureRules(
                fever_threshold_tenths=375, plausible_min_tenths=350, plausible_max_tenths=420
            ),
        )
    )
    return RuleSet(
        version=rng.choice((1, 2, 17)),
        timezone=zone,
        quota=quota,
        max_out_at_once=rng.choice((1, 1, 1, 2, 3)),
        exit_hours=None
        if hours is None
        else ExitHours(time.fromisoformat(hours[0]), time.fromisoformat(hours[1])),
        max_outside_minutes=rng.choice((None, None, 30, 240, 1440)),
        temperature=temperature,
    )


def _now(rng: random.Random, rules: RuleSet) -> datetime:
    zone = rules.timezone
    anchors = transitions(zone) or [local(zone, "2026-03-29T02:00:00")]
    roll = rng.random()
    if roll < 0.4:
        anchor = rng.choice(anchors)
    elif roll < 0.7:
        day = datetime(2026, rng.randint(1, 12), rng.randint(1, 28)).date()
        anchor = local_midnight(day, rules)
    else:
        anchor = at("2026-11-22T00:00:00") + timedelta(minutes=rng.randint(0, 14 * 24 * 60))
    delta = rng.choice(
        (
            timedelta(0),
            MS,
            -MS,
            timedelta(seconds=1),
            -timedelta(minutes=1),
            timedelta(minutes=30),
            -timedelta(hours=1),
            timedelta(hours=rng.randint(-48, 48), milliseconds=rng.randint(0, 3_599_999)),
        )
    )
    moment = anchor + delta
    return min(max(moment, ISSUED + timedelta(days=1)), UNTIL - timedelta(days=1))


def _exit_times(rng: random.Random, rules: RuleSet, now: datetime) -> list[datetime]:
    times: list[datetime] = []
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):
        quota = rules.quota
        roll = rng.random()
        if quota is not None and quota.window is WindowKind.CALENDAR_DAYS and roll < 0.4:
            first = now.astimezone(rules.zone).date() - timedelta(
                days=quota.length - 1 + rng.choice((0, 0, 1))
            )
            moment = local_midnight(first, rules) + rng.choice(
                (timedelta(0), MS, -MS, timedelta(hours=rng.randint(0, 30)))
            )
        elif quota is not None and quota.window is WindowKind.ROLLING_HOURS and roll < 0.4:
            moment = (
                now
                - timedelta(hours=quota.length)
                + rng.choice((timedelta(0), MS, -MS, timedelta(minutes=rng.randint(1, 600))))
            )
        elif roll < 0.95:
            moment = now - timedelta(milliseconds=rng.randint(0, 4 * 86_400_000))
        else:
            moment = now + timedelta(minutes=rng.randint(1, 60))  # a clock that ran ahead
        times.append(moment)
    return sorted(times)


def _household(
    rng: random.Random, rules: RuleSet, now: datetime, household_id: int, generation: int
) -> HouseholdState | None:
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.06:
        household_id += 1
    if 0.06 <= roll < 0.09:
        generation += 1
    status = rng.choices(list(HouseholdStatus), weights=(70, 15, 15))[0]
    until = None
    if rng.random() < 0.7:
        until = rng.choice(
            (
                now + timedelta(hours=rng.randint(-30, 200)),
                local_midnight(
                    now.astimezone(rules.zone).date() + timedelta(days=rng.randint(-1, 10)), rules
                ),
                now,
                now + MS,
            )
        )
    exits = _exit_times(rng, rules, now)
    out = sorted(rng.sample(exits, k=min(len(exits), rng.choice((0, 0, 1, 2)))))
    if rules.max_outside_minutes is not None and rng.random() < 0.3:
        out = sorted(
            (
                *out,
                now
                - timedelta(minutes=rules.max_outside_minutes)
                + rng.choice((timedelta(0), MS, -MS)),
            )
        )
    return HouseholdState(
        household_id=household_id,
        generation=generation,
        status=status,
        quarantine_until=until,
        out_since=tuple(out),
        exits=tuple(exits),
    )


def _temperature(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.7:
        return rng.randint(355, 372)
    if roll < 0.8:
        return None
    if roll < 0.93:
        return rng.choice((372, 373, 374, 375, 380, 400, 420, 421, 430, 431, 340, 339, 350, 349))
    return rng.choice((36.6, "365", True, float("nan"), -5, 10**9))


def add_random(corpus: Corpus, count: int) -> None:
    """``count`` seeded random scenarios: decide with a card, sometimes a screen code."""
    rng = random.Random(SEED)
    passes = []
    for index in range(40):
        key = rng.choice((ACTIVE, ACTIVE, ACTIVE, RETIRED, SHARED, PERIOD))
        household_id = rng.choice((rng.randint(1, 5000), rng.randint(1, 2**32 - 1)))
        generation = rng.choice((1, 1, 2, 7))
        passes.append(
            (
                household_id,
                generation,
                make_pass(
                    key,
                    pass_id=rng.randbytes(12),
                    household_id=household_id,
                    issued_at=ISSUED,
                    valid_until=UNTIL,
                    generation=generation,
                ),
            )
        )
        del index
    overrides = (
        Override(supervisor="张主任", reason="就医"),
        Override(supervisor="Duty lead", reason="emergency"),
    )
    for index in range(count):
        rules = _rules(rng)
        now = _now(rng, rules)
        household_id, generation, (fields, text) = rng.choice(passes)
        state = _household(rng, rules, now, household_id, generation)
        direction = Direction.OUT if rng.random() < 0.65 else Direction.IN
        override = rng.choice(overrides) if rng.random() < 0.15 else None
        revoked = (fields.pass_id,) if rng.random() < 0.03 else ()
        corpus.add_decide(
            f"random/{index}",
            text,
            rules=rules,
            now=now,
            household=state,
            direction=direction,
            temperature=_temperature(rng),
            override=override,
            revoked=revoked,
        )
