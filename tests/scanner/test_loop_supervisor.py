"""The scan loop with the real decider and real supervisor cards (offline, from the bundle): a
refusal, the card, a reason picked in the window, an override crossing journaled with its card;
after a bundle refresh that revokes the card, the same steps give a refusal."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from pathlib import Path

from passes import CardState, HouseholdState, KeySet, RuleSet, card_for, sign_supervisor_card, wire
from scanner.bundle import save_bundle
from scanner.frames import TypedCode
from tests.scanner.fakes import COMMUNITY_ID
from tests.scanner.test_loop import World

CODES = {1: "3-2-401", 2: "3-2-402", 3: "5-1-101"}


def _card(w: World, card_id: bytes) -> str:
    fields = card_for(
        key_id=1,
        card_id=card_id,
        account_id=42,
        community_id=COMMUNITY_ID,
        issued_at=w.wall() - timedelta(days=1),
        valid_for=timedelta(days=90),
    )
    return sign_supervisor_card(w.community.key, fields)


def _refresh(w: World, card_id: bytes, *, revoked: bool) -> None:
    """A bundle from the server that lists the card, or its revocation."""
    c = w.community
    bundle = wire.Bundle.build(
        generated_at=w.wall(),
        community=wire.Community(COMMUNITY_ID, "Test", "Asia/Shanghai"),
        rules=RuleSet(),
        keys=KeySet((c.key.entry,)),
        revoked_pass_ids=(),
        households=tuple(HouseholdState(h) for h in c.passes),
        household_codes=CODES,
        supervisor_cards=()
        if revoked
        else (CardState(card_id, 42, w.wall() + timedelta(days=89)),),
        revoked_card_ids=(card_id,) if revoked else (),
    )
    save_bundle(w.journal, bundle.to_json(), etag=None, fetched_at=w.wall())


def _refused_twice(w: World, household_id: int) -> None:
    card = w.community.passes[household_id]
    events = w.loop.run(itertools.chain(w.hold(card, 0.5), w.hold(None, 6.0), w.hold(card, 0.5)))
    assert [e.decision.code for e in events if e.decision] == [None, "already_out"]


def test_an_offline_override_with_a_real_card_then_the_card_revoked_by_a_bundle_refresh(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    card_id = uuid.uuid4().bytes[:12]
    card = _card(w, card_id)
    _refresh(w, card_id, revoked=False)
    _refused_twice(w, 1)
    w.display.type_slowly(["1"])

    [event] = w.loop.run([TypedCode(card, w.clock.now)])

    assert event.kind == "override"
    assert event.decision is not None
    assert event.decision.allowed is True
    assert event.decision.offline is True
    entry = w.journal.rows()[-1].entry
    assert entry.override is not None
    assert (entry.override.reason, entry.override.card) == ("就医", card)
    assert "override" in entry.verdict["notes"]
    assert w.display.verdicts[-1].kind == "allow"
    assert w.display.verdicts[-1].label == "3-2-401"  # the household code from the bundle

    _refresh(w, card_id, revoked=True)
    _refused_twice(w, 2)
    w.display.type_slowly(["3"])
    [revoked] = w.loop.run([TypedCode(card, w.clock.now)])
    assert revoked.decision is not None
    assert revoked.decision.allowed is False
    assert revoked.decision.code == "supervisor_card_revoked"
    assert w.display.verdicts[-1].kind == "refuse"
    w.journal.close()
