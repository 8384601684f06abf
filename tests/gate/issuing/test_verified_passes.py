"""A pass verified once per process answers as ``verify_pass`` does, at any time and under any
change of its key entry (revoked, retired, replaced, its period moved), for passes of this
community and of another, expired, not yet valid, forged and garbled."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from gate.community.context import CommunityContext
from gate.issuing import verified_passes
from gate.issuing.verified_passes import remembered_household, verify_known_pass
from passes import KeySet, KeyStatus, Pass, RuleSet, SigningKey, new_pass_id, verify_pass

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
COMMUNITY = 7


def _context(keys: KeySet, community_id: int = COMMUNITY) -> CommunityContext:
    return CommunityContext(community_id, "幸福里", "Asia/Shanghai", keys, RuleSet())


def _pass(key: SigningKey, household_id: int, *, community_id: int = COMMUNITY) -> str:
    return key.sign(
        Pass(
            key_id=key.entry.key_id,
            pass_id=new_pass_id(),
            household_id=household_id,
            community_id=community_id,
            generation=1,
            issued_at=NOW - timedelta(days=10),
            valid_until=NOW + timedelta(days=20),
        )
    )


@pytest.fixture(autouse=True)
def _forget() -> None:
    verified_passes._VERIFIED.clear()


def test_every_answer_is_verify_pass_answer_over_random_histories() -> None:
    rng = random.Random(20261205)
    key = SigningKey.generate(1, not_before=NOW - timedelta(days=30))
    other = SigningKey.generate(1, not_before=NOW - timedelta(days=30))  # same id, other key
    texts = [_pass(key, n) for n in range(1, 6)]
    texts += [_pass(key, 9, community_id=COMMUNITY + 1), _pass(other, 10)]
    texts += [texts[0][:-4] + "AAAA", "CP1:garbage", ""]
    entries = {
        "as made": (key.entry,),
        "revoked": (dataclasses.replace(key.entry, status=KeyStatus.REVOKED),),
        "retired": (
            dataclasses.replace(
                key.entry, status=KeyStatus.RETIRED, not_after=NOW - timedelta(days=1)
            ),
        ),
        "starts later": (dataclasses.replace(key.entry, not_before=NOW),),
        "replaced": (other.entry,),
        "both": (key.entry, other.entry),
        "none": (),
    }
    for _ in range(3000):
        keys = KeySet(rng.choice(list(entries.values())))
        text = rng.choice(texts)
        at = NOW + timedelta(days=rng.uniform(-15, 25))
        expected = verify_pass(text, keys, community_id=COMMUNITY, now=at)
        assert verify_known_pass(_context(keys), text, at) == expected, (text, keys, at)


def test_a_known_pass_is_not_verified_again_and_names_its_household(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = SigningKey.generate(1)
    text = _pass(key, 42)
    context = _context(KeySet((key.entry,)))
    assert remembered_household(COMMUNITY, text) is None
    first = verify_known_pass(context, text, NOW)
    calls: list[str] = []
    monkeypatch.setattr(
        verified_passes, "verify_pass", lambda *args, **kwargs: calls.append("again")
    )
    assert verify_known_pass(context, text, NOW + timedelta(hours=1)) == first
    assert calls == []
    assert remembered_household(COMMUNITY, text) == 42
    assert remembered_household(COMMUNITY + 1, text) is None  # another community's memory


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verified_passes, "REMEMBERED", 3)
    key = SigningKey.generate(1)
    context = _context(KeySet((key.entry,)))
    texts = [_pass(key, n) for n in range(1, 6)]
    for text in texts:
        verify_known_pass(context, text, NOW)
    assert len(verified_passes._VERIFIED) == 3
    assert [remembered_household(COMMUNITY, text) for text in texts] == [None, None, 3, 4, 5]
