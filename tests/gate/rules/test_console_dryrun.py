"""Dry run of proposed rules: a hand-built week replayed, counts by code, examples."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from factories import make_crossing, make_device, make_household
from sqlalchemy.orm import Session

from gate.community.models import Community
from gate.households.operations import set_quarantine
from gate.rules.dryrun import CrossingFacts, StatusSpan, dry_run, replay
from passes import Direction, ExitHours, HouseholdStatus, Quota, RuleSet

ZONE = ZoneInfo("Asia/Shanghai")
STRICT = RuleSet(
    version=9,
    quota=Quota(exits=1, length=3),
    max_out_at_once=1,
    exit_hours=ExitHours(time(6), time(20)),
)
_ids = iter(range(1, 10_000))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """22 + ``day`` November 2026, local Shanghai time, as UTC."""
    return datetime(2026, 11, 22 + day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def fact(
    household: int | None,
    when: datetime,
    direction: Direction,
    *,
    temperature: int | None = 365,
    allowed: bool = True,
    code: str | None = None,
) -> CrossingFacts:
    return CrossingFacts(
        crossing_id=next(_ids),
        household_id=household,
        household_code=None if household is None else f"H{household}",
        scanned_at=when,
        direction=direction,
        temperature_tenths=temperature,
        sensor_error=False,
        override=None,
        allowed=allowed,
        code=code,
    )


OUT, IN = Direction.OUT, Direction.IN


def scenario() -> list[CrossingFacts]:
    """A week logged under lax rules, in household then time order."""
    return [
        # household 1: out/in on the 22nd, again on the 23rd (quota), again on the 25th (fine)
        fact(1, at(0, 9), OUT),
        fact(1, at(0, 10), IN),
        fact(1, at(1, 9), OUT),  # quota under STRICT
        fact(1, at(1, 10), IN),  # entry stays allowed (nobody out: a note, not a refusal)
        fact(1, at(3, 9), OUT),  # the 25th: allowed again
        fact(1, at(3, 11), IN),
        # household 2: a late exit, and a fever refused in the log already
        fact(2, at(0, 21), OUT),  # outside_hours under STRICT
        fact(2, at(2, 9), OUT, temperature=381, allowed=False, code="fever"),
        # a forged pass: no household, refused whatever the rules
        fact(None, at(2, 12), OUT, allowed=False, code="bad_signature"),
    ]


def test_hand_built_week_counts_refusals_by_code() -> None:
    result = replay(scenario(), STRICT)

    assert result.crossings == 9
    assert dict(result.refused_by_code) == {
        "quota": 1,
        "outside_hours": 1,
        "fever": 1,
        "bad_signature": 1,
    }
    assert dict(result.current_refused_by_code) == {"fever": 1, "bad_signature": 1}
    assert result.newly_refused == 2
    assert result.newly_allowed == 0
    assert [e.scanned_at for e in result.examples["quota"]] == [at(1, 9)]
    assert [e.household_code for e in result.examples["outside_hours"]] == ["H2"]


def test_lax_rules_allow_what_the_log_refused_for_rules_only() -> None:
    facts = [
        fact(1, at(0, 9), OUT),
        fact(1, at(0, 9, 30), OUT, allowed=False, code="already_out"),
    ]
    result = replay(facts, RuleSet(quota=None, max_out_at_once=2))
    assert result.refused == 0
    assert result.newly_allowed == 1


def test_status_history_applies_at_each_crossing() -> None:
    until = at(5, 0)
    spans = {1: [StatusSpan(at(1, 0), HouseholdStatus.QUARANTINED, until)]}
    facts = [fact(1, at(0, 9), OUT), fact(1, at(0, 10), IN), fact(1, at(4, 9), OUT)]
    result = replay(facts, RuleSet(quota=None), statuses=spans)
    assert dict(result.refused_by_code) == {"quarantined": 1}
    assert result.examples["quarantined"][0].scanned_at == at(4, 9)


def test_dry_run_reads_the_log_and_the_quarantine_history(
    db_session: Session, community: Community
) -> None:
    device = make_device(db_session, community=community)
    now = datetime.now(UTC)
    # quarantined just now (audited): last week's exits were not under quarantine
    audited = make_household(db_session, community=community)
    make_crossing(db_session, device, audited, scanned_at=now - timedelta(days=2))
    set_quarantine(
        db_session,
        audited,
        until=(now + timedelta(days=5)).astimezone(ZONE).date(),
        actor="test",
        reason="密接",
        now=now,
    )
    # quarantined with no audit trail: the current status is all there is
    silent = make_household(
        db_session,
        community=community,
        status=HouseholdStatus.QUARANTINED,
        quarantine_until=now + timedelta(days=3),
    )
    make_crossing(db_session, device, silent, scanned_at=now - timedelta(days=1))
    # outside the window: not replayed
    make_crossing(db_session, device, silent, scanned_at=now - timedelta(days=9))
    # another community's crossings are never read
    make_crossing(db_session, make_device(db_session), scanned_at=now - timedelta(hours=1))

    rules = RuleSet(quota=None, exit_hours=None, max_out_at_once=5)
    result = dry_run(db_session, community.id, rules, now=now, days=7)

    assert result.crossings == 2
    assert dict(result.refused_by_code) == {"quarantined": 1}
    assert [e.household_code for e in result.examples["quarantined"]] == [silent.code]
