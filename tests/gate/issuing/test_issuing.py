"""Issuing as the CLI uses it: re-issue and revoke decided by the core, cards, printed sheets."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from factories import make_building, make_household
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.community.models import Community
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.issuing.cards import CardBuilder, address_line, local_validity, usable_passes
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import IssuingError, issue_pass, revoke_pass
from gate.issuing.printing import render_card_sheets_pdf
from gate.signing.operations import create_signing_key
from passes import Code, Direction, decide

NOW = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)  # 10:30 in Shanghai


@pytest.fixture
def signing(db_session: Session, community: Community, tmp_path: Path) -> None:
    create_signing_key(
        db_session,
        community_id=community.id,
        keys_dir=tmp_path,
        actor="clerk",
        now=NOW - dt.timedelta(days=1),
    )


def verdict(session: Session, household: Household, text: str) -> Code | str:
    """The refusal code of an exit with ``text`` now, or ``"allowed"``."""
    context = load_context(session, household.community_id)
    revoked = set(
        session.scalars(select(IssuedPass.pass_id).where(IssuedPass.status == PassStatus.REVOKED))
    )
    result = decide(
        text,
        keys=context.keys,
        community_id=household.community_id,
        household=household_state(household),
        revoked_pass_ids=revoked,
        rules=context.rules,
        direction=Direction.OUT,
        temperature=365,
        now=NOW + dt.timedelta(hours=1),
    )
    return "allowed" if result.allowed else result.code or "refused"


@pytest.mark.usefixtures("signing")
def test_reissue_makes_the_old_card_superseded(db_session: Session, household: Household) -> None:
    old = issue_pass(db_session, household, actor="clerk", now=NOW)
    assert verdict(db_session, household, old.text) == "allowed"

    new = issue_pass(db_session, household, actor="clerk", now=NOW, reissue=True)

    assert verdict(db_session, household, old.text) is Code.SUPERSEDED
    assert verdict(db_session, household, new.text) == "allowed"
    db_session.refresh(old.record)
    assert old.record.status is PassStatus.SUPERSEDED
    assert new.record.generation == old.record.generation + 1


@pytest.mark.usefixtures("signing")
def test_no_pass_is_issued_before_its_key_may_sign(
    db_session: Session, household: Household
) -> None:
    # A server clock set back past the key's start would print a card every gate refuses.
    before_the_key = NOW - dt.timedelta(days=2)

    with pytest.raises(IssuingError) as refused:
        issue_pass(db_session, household, actor="clerk", now=before_the_key, reissue=True)

    assert refused.value.code == "key_not_valid_then"
    assert refused.value.params == {
        "key_id": 1,
        "issued_at": "2026-11-18T02:30:00Z",
        "not_before": "2026-11-19T02:30:00Z",
        "not_after": "-",
    }
    assert db_session.scalars(select(IssuedPass)).all() == []
    assert household.generation == 1  # nothing superseded either


@pytest.mark.usefixtures("signing")
def test_a_revoked_pass_is_refused_as_revoked(db_session: Session, household: Household) -> None:
    issued = issue_pass(db_session, household, actor="clerk", now=NOW)

    revoke_pass(db_session, issued.record, actor="clerk", reason="lost", now=NOW)

    assert verdict(db_session, household, issued.text) is Code.REVOKED
    assert usable_passes(db_session, [household], NOW) == {}


@pytest.mark.usefixtures("signing")
def test_usable_passes_skip_expired_and_take_the_newest(
    db_session: Session, household: Household
) -> None:
    first = issue_pass(db_session, household, actor="clerk", now=NOW, valid_days=1)
    second = issue_pass(db_session, household, actor="clerk", now=NOW, valid_days=30)

    assert usable_passes(db_session, [household], NOW) == {household.id: second.record}
    later = NOW + dt.timedelta(days=2)
    assert first.record.valid_until < later
    assert usable_passes(db_session, [household], later) == {household.id: second.record}
    assert usable_passes(db_session, [household], NOW + dt.timedelta(days=31)) == {}


@pytest.mark.usefixtures("signing")
def test_a_card_shows_address_dates_rule_and_code_but_no_name(
    db_session: Session, community: Community
) -> None:
    building = make_building(db_session, community, code="3")
    household = make_household(
        db_session, community=community, building=building, code="3-2-401", unit="2", room="401"
    )
    issued = issue_pass(db_session, household, actor="clerk", now=NOW, valid_days=30)

    card = CardBuilder(db_session, community).card(household, issued.record)

    assert card.pass_text == issued.text
    assert card.household_code == "3-2-401"
    assert card.address_line == "3号楼 2单元 401室" == address_line(household)
    assert card.community_name == community.name
    assert card.valid_from == dt.date(2026, 11, 20)
    # valid until 2026-12-20 10:30 local: the last whole day printed is the 19th
    assert card.valid_until == dt.date(2026, 12, 19)
    assert card.rule_line == "每三天可外出一次"
    assert card.manual_code == issued.record.manual_code
    names = [m.name for m in household.members]
    assert not any(name in repr(card) for name in names)


def test_local_validity_of_a_pass_ending_at_local_midnight(
    db_session: Session, household: Household
) -> None:
    record = IssuedPass(
        issued_at=dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC),  # 11-20 00:00 local
        valid_until=dt.datetime(2026, 11, 29, 16, 0, tzinfo=dt.UTC),  # 11-30 00:00 local
    )
    assert local_validity(record, "Asia/Shanghai") == (dt.date(2026, 11, 20), dt.date(2026, 11, 29))


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", data))


@pytest.mark.usefixtures("signing")
def test_nine_cards_print_on_two_a4_pages(db_session: Session, community: Community) -> None:
    building = make_building(db_session, community, code="5")
    rows = [make_household(db_session, community=community, building=building) for _ in range(9)]
    for row in rows:
        issue_pass(db_session, row, actor="clerk", now=NOW)
    passes = usable_passes(db_session, rows, NOW)
    out = io.BytesIO()

    pages = render_card_sheets_pdf(CardBuilder(db_session, community).cards(rows, passes), out)

    assert pages == 2
    assert pdf_pages(out.getvalue()) == 2
