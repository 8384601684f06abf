"""Corpus cases: per-person counting (一人一次, ``count: people``) against households."""

from __future__ import annotations

from datetime import timedelta

from corpus_builder import Corpus
from corpus_rules import OVERRIDE, PASS, household, local

from passes import CountKind, Direction, HouseholdStatus, Quota, RuleSet, WindowKind


def add_people(corpus: Corpus) -> None:
    """Groups of 1-4 out and in, with people already out and exits used, under both counts;
    quota windows of both kinds; a group larger than the quota; overrides and exemption."""
    zone = "Asia/Shanghai"
    now = local(zone, "2026-12-05T10:00:00")
    earlier = now - timedelta(hours=3)
    for count in CountKind:
        for window in WindowKind:
            rules = RuleSet(
                quota=Quota(
                    exits=3, window=window, length=2 if window is WindowKind.CALENDAR_DAYS else 24
                ),
                max_out_at_once=3,
                count=count,
            )
            for used in range(4):
                for out in range(min(used, 3) + 1):
                    state = household(exits=(earlier,) * used, out_since=(earlier,) * out)
                    for people in (1, 2, 3, 4):
                        for direction in Direction:
                            corpus.add_decide(
                                f"people/{count.value}/{window.value}/{used}/{out}/"
                                f"{people}/{direction.value}",
                                PASS,
                                rules=rules,
                                now=now,
                                household=state,
                                direction=direction,
                                people=people,
                            )
    rules = RuleSet(quota=Quota(exits=2, length=1), max_out_at_once=5, count=CountKind.PEOPLE)
    for status in (HouseholdStatus.NORMAL, HouseholdStatus.EXEMPT):
        for override in (None, OVERRIDE):
            for people in (2, 3, 6):
                corpus.add_decide(
                    f"people/big/{status.value}/{override is not None}/{people}",
                    PASS,
                    rules=rules,
                    now=now,
                    household=household(status=status),
                    people=people,
                    override=override,
                )
    # Without a quota, only people out at once count; no quota limits a group.
    for people in (1, 5, 20):
        corpus.add_decide(
            f"people/no-quota/{people}",
            PASS,
            rules=RuleSet(quota=None, max_out_at_once=5, count=CountKind.PEOPLE),
            now=now,
            household=household(out_since=(earlier,)),
            people=people,
        )
