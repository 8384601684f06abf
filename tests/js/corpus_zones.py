"""Corpus cases: local dates and wall-clock hours in every zone, across its offset changes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from corpus_builder import Corpus
from corpus_rules import MS, PASS, ZONES, household, local, transitions

from passes import (
    Direction,
    ExitHours,
    HouseholdStatus,
    Quota,
    RuleSet,
    WindowKind,
)


def add_calendar_edges(corpus: Corpus) -> None:
    """Calendar-day quotas at local midnights, in every zone, including DST days."""
    for zone in ZONES:
        for length, exits in ((1, 1), (3, 1), (2, 2)):
            rules = RuleSet(
                timezone=zone,
                quota=Quota(exits=exits, window=WindowKind.CALENDAR_DAYS, length=length),
            )
            days = [
                "2026-11-22",
                *(t.astimezone(ZoneInfo(zone)).date().isoformat() for t in transitions(zone)),
            ]
            for day in days:
                today = datetime.fromisoformat(day)
                first = today - timedelta(days=length - 1)
                midnight = local(zone, first.strftime("%Y-%m-%dT00:00:00"))
                for now in (
                    local(zone, f"{day}T10:00:00"),
                    local(zone, f"{day}T00:00:00"),
                    local(zone, f"{day}T23:59:59.999"),
                ):
                    for label, exit_at in (
                        ("before-window", midnight - MS),
                        ("at-window-start", midnight),
                        ("inside", midnight + timedelta(hours=1)),
                    ):
                        if exit_at > now:
                            continue
                        extra = () if exits == 1 else (now - timedelta(minutes=5),)
                        state = household(exits=tuple(sorted((exit_at, *extra))))
                        corpus.add_decide(
                            f"calendar/{zone}/{length}x{exits}/{day}/{now.isoformat()}/{label}",
                            PASS,
                            rules=rules,
                            now=now,
                            household=state,
                        )


def add_exit_hours(corpus: Corpus) -> None:
    """Exit hours: day, overnight, edges, and openings on DST days (gap and fold)."""
    windows = (
        ("06:00", "20:00"),
        ("22:00", "06:00"),
        ("00:00", "23:59"),
        ("02:30", "04:00"),
        ("01:30", "02:00"),
        ("00:00", "00:01"),
        ("23:59", "00:00"),
    )
    for zone in ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"):
        for start, end in windows:
            rules = RuleSet(
                timezone=zone,
                exit_hours=ExitHours(time.fromisoformat(start), time.fromisoformat(end)),
                quota=None,
            )
            moments = [local(zone, f"2026-11-22T{start}:00"), local(zone, f"2026-11-22T{end}:00")]
            moments += [m - MS for m in moments] + [m + MS for m in moments]
            moments += [
                t + delta
                for t in transitions(zone)
                for delta in (
                    -timedelta(hours=2),
                    -timedelta(minutes=30),
                    -MS,
                    timedelta(0),
                    timedelta(minutes=30),
                    timedelta(hours=1, minutes=10),
                    timedelta(hours=3),
                )
            ]
            for now in moments:
                corpus.add_decide(
                    f"hours/{zone}/{start}-{end}/{now.isoformat()}",
                    PASS,
                    rules=rules,
                    now=now,
                    household=household(),
                )
    # The fold: 01:10 the second time (EST) on New York's fall-back night, exits from 01:30.
    zone = "America/New_York"
    rules = RuleSet(timezone=zone, exit_hours=ExitHours(time(1, 30), time(5, 0)), quota=None)
    for fold in (0, 1):
        for wall in ("01:10:00", "01:29:59", "01:30:00", "01:45:00"):
            now = local(zone, f"2026-11-01T{wall}", fold=fold)
            corpus.add_decide(
                f"hours/fold{fold}/{wall}", PASS, rules=rules, now=now, household=household()
            )


def add_next_exit(corpus: Corpus) -> None:
    """next_exit_at where quarantine end, quota and exit hours all push it later."""
    for zone in ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Pacific/Chatham"):
        for window in (WindowKind.CALENDAR_DAYS, WindowKind.ROLLING_HOURS):
            length = 3 if window is WindowKind.CALENDAR_DAYS else 36
            for hours in (
                None,
                ExitHours(time(8, 0), time(18, 0)),
                ExitHours(time(2, 30), time(3, 30)),
            ):
                rules = RuleSet(
                    timezone=zone,
                    quota=Quota(exits=1, window=window, length=length),
                    exit_hours=hours,
                )
                for day in ("2026-11-22", "2026-03-07", "2026-10-24"):
                    now = local(zone, f"{day}T07:00:00")
                    for name, state in (
                        ("quota", household(exits=(now - timedelta(hours=20),))),
                        (
                            "quarantine-then-quota",
                            household(
                                status=HouseholdStatus.QUARANTINED,
                                quarantine_until=now + timedelta(hours=30),
                                exits=(now - timedelta(hours=2),),
                            ),
                        ),
                        (
                            "exempt",
                            household(
                                status=HouseholdStatus.EXEMPT, exits=(now - timedelta(hours=2),)
                            ),
                        ),
                        ("fresh", household()),
                    ):
                        for direction in Direction if name == "fresh" else (Direction.OUT,):
                            corpus.add_decide(
                                f"next/{zone}/{window.value}/{hours}/{day}/{name}/{direction.value}",
                                PASS,
                                rules=rules,
                                now=now,
                                household=state,
                                direction=direction,
                            )
