"""Forgery and key handling: nothing but a pass signed by a known, usable key is accepted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from strategies import (
    COMMUNITY,
    HOUSEHOLD,
    ISSUED_AT,
    NOW,
    ONE_SECOND,
    VALID_UNTIL,
    crossing,
    default_key,
    household,
    pass_fields,
    seeded_key,
    signed_text,
)

from passes import (
    PREFIX,
    Code,
    Direction,
    KeyEntry,
    KeySet,
    KeyStatus,
    Override,
    PassRejected,
    RuleSet,
    SigningKey,
    VerifiedPass,
    decide,
    verify_pass,
)
from passes.base45 import b45decode, b45encode

REFUSED_FORGERY_CODES = {Code.BAD_FORMAT, Code.UNKNOWN_KEY, Code.BAD_SIGNATURE}


def _verify(text: object, keys: KeySet, *, now: datetime = NOW, community_id: int = COMMUNITY):
    return verify_pass(text, keys, community_id=community_id, now=now)


def _flip(text: str, raw: bytes, bit: int) -> str:
    """``text`` with one bit of its 97 decoded bytes flipped, re-encoded with Base45.

    Only the flipped byte's Base45 group changes, so only that group is re-encoded
    (the test's cost is then the verification, not the encoding).
    """
    index = bit // 8
    start = index - index % 2
    group = bytearray(raw[start : start + 2])
    group[index - start] ^= 1 << (bit % 8)
    at = len(PREFIX) + 3 * (start // 2)
    return text[:at] + b45encode(bytes(group)) + text[at + 3 :]


def test_flipping_one_bit_changes_exactly_the_decoded_bit() -> None:
    text = signed_text()
    raw = b45decode(text[len(PREFIX) :])
    for bit in (0, 7, 8, 263, 264, 775):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert _flip(text, raw, bit) == PREFIX + b45encode(bytes(flipped))


def test_every_single_bit_flip_of_100_passes_is_refused() -> None:
    # Keys 1 and 3 differ in one bit of the key id, so some flips land on another real key.
    key_a, key_b = seeded_key(1), seeded_key(3)
    keys = KeySet((key_a.entry, key_b.entry))
    texts = [
        (key_a if serial % 2 else key_b).sign(
            pass_fields(
                key_id=(key_a if serial % 2 else key_b).entry.key_id,
                serial=serial,
                household_id=HOUSEHOLD + serial,
            )
        )
        for serial in range(100)
    ]
    accepted: list[str] = []
    codes: Counter[Code] = Counter()
    tried = 0
    for text in texts:
        assert isinstance(_verify(text, keys), VerifiedPass)
        raw = b45decode(text[len(PREFIX) :])
        assert len(raw) == 97
        for bit in range(len(raw) * 8):
            forged = _flip(text, raw, bit)
            check = _verify(forged, keys)
            tried += 1
            if isinstance(check, VerifiedPass):
                accepted.append(forged)
            else:
                codes[check.code] += 1
                assert check.fields is None  # nothing from a forgery is handed on

    assert tried == 100 * 97 * 8 == 77_600
    assert accepted == []
    assert set(codes) <= REFUSED_FORGERY_CODES
    assert codes[Code.BAD_SIGNATURE] > 70_000


def test_passes_signed_by_1000_keys_outside_the_key_set_are_refused() -> None:
    keys = KeySet((default_key().entry,))
    outcomes: Counter[Code] = Counter()
    for i in range(1000):
        # Half reuse the set's key id (forces the signature check), half use other ids.
        key_id = 1 if i % 2 else 2 + i
        outsider = SigningKey.generate(key_id)
        check = _verify(outsider.sign(pass_fields(key_id=key_id, serial=i)), keys)
        assert isinstance(check, PassRejected)
        outcomes[check.code] += 1

    assert outcomes == {Code.BAD_SIGNATURE: 500, Code.UNKNOWN_KEY: 500}


def test_two_keys_sharing_a_key_id_both_verify_and_a_third_with_that_id_is_refused() -> None:
    first, second, stranger = seeded_key(7, "a"), seeded_key(7, "b"), seeded_key(7, "c")
    keys = KeySet((first.entry, second.entry))

    check_first = _verify(signed_text(first), keys)
    check_second = _verify(signed_text(second), keys)
    check_stranger = _verify(signed_text(stranger), keys)

    assert isinstance(check_first, VerifiedPass)
    assert check_first.key == first.entry
    assert isinstance(check_second, VerifiedPass)
    assert check_second.key == second.entry
    assert isinstance(check_stranger, PassRejected)
    assert check_stranger.code is Code.BAD_SIGNATURE


def test_pass_under_retired_key_stays_valid_until_its_own_expiry() -> None:
    key = seeded_key(1).with_status(KeyStatus.RETIRED)
    keys = KeySet((key.entry,))
    text = signed_text(key)

    assert isinstance(_verify(text, keys, now=VALID_UNTIL), VerifiedPass)
    late = _verify(text, keys, now=VALID_UNTIL + ONE_SECOND)
    assert isinstance(late, PassRejected)
    assert late.code is Code.EXPIRED


def test_pass_under_revoked_key_is_refused_with_key_revoked() -> None:
    key = seeded_key(1).with_status(KeyStatus.REVOKED)
    check = _verify(signed_text(key), KeySet((key.entry,)))
    assert isinstance(check, PassRejected)
    assert check.code is Code.KEY_REVOKED


def test_revoked_key_cannot_be_overridden_at_the_gate() -> None:
    key = seeded_key(1).with_status(KeyStatus.REVOKED)
    verdict = crossing(
        text=signed_text(key),
        keys=KeySet((key.entry,)),
        override=Override("王主任", "known resident"),
    )
    assert not verdict.allowed
    assert verdict.codes == (Code.KEY_REVOKED,)
    assert verdict.state_after == household()


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (-ONE_SECOND, Code.KEY_NOT_VALID),
        (timedelta(0), None),
        (timedelta(days=30), None),
        (timedelta(days=60), None),
        (timedelta(days=60) + ONE_SECOND, Code.KEY_NOT_VALID),
    ],
)
def test_pass_issued_outside_its_key_period_is_refused_with_key_not_valid(
    offset: timedelta, code: Code | None
) -> None:
    not_before = ISSUED_AT
    key = seeded_key(1, not_before=not_before, not_after=not_before + timedelta(days=60))
    issued_at = not_before + offset
    text = signed_text(key, issued_at=issued_at, valid_until=issued_at + timedelta(days=400))

    check = _verify(text, KeySet((key.entry,)), now=NOW)

    if code is None:
        assert isinstance(check, VerifiedPass)
    else:
        assert isinstance(check, PassRejected)
        assert check.code is code


def test_forged_pass_for_another_community_is_bad_signature_not_wrong_community() -> None:
    genuine = signed_text(community_id=COMMUNITY + 1)  # genuinely foreign: wrong_community
    raw = bytearray(b45decode(genuine[len(PREFIX) :]))
    raw[19:23] = COMMUNITY.to_bytes(4, "big")  # forger rewrites the community id ...
    raw[29:33] = (2**32 - 1).to_bytes(4, "big")  # ... and extends the validity
    forged = PREFIX + b45encode(bytes(raw))
    keys = KeySet((default_key().entry,))

    foreign = _verify(genuine, keys)
    assert isinstance(foreign, PassRejected)
    assert foreign.code is Code.WRONG_COMMUNITY

    check = _verify(forged, keys)
    assert isinstance(check, PassRejected)
    assert check.code is Code.BAD_SIGNATURE
    assert check.fields is None


@pytest.mark.parametrize(
    "fields",
    [
        {"community_id": COMMUNITY + 1},
        {"valid_until": datetime(2026, 2, 1, tzinfo=UTC)},  # expired at NOW
        {"issued_at": datetime(2026, 12, 1, tzinfo=UTC)},  # not yet valid at NOW
        {"household_id": HOUSEHOLD + 1},
        {"generation": 9},
    ],
)
def test_signature_is_checked_before_any_field_is_acted_on(fields: dict[str, object]) -> None:
    outsider = seeded_key(1, "outsider")  # same key id as the community's key
    verdict = decide(
        signed_text(outsider, **fields),
        keys=KeySet((default_key().entry,)),
        community_id=COMMUNITY,
        household=household(),
        revoked_pass_ids=frozenset({pass_fields().pass_id}),
        rules=RuleSet(),
        direction=Direction.OUT,
        temperature=365,
        now=NOW,
    )
    assert verdict.codes == (Code.BAD_SIGNATURE,)
    assert verdict.household_id is None
    assert verdict.pass_id is None


def test_unknown_key_id_is_refused_before_any_signature_work() -> None:
    check = _verify(signed_text(seeded_key(99)), KeySet((default_key().entry,)))
    assert isinstance(check, PassRejected)
    assert check.code is Code.UNKNOWN_KEY


def test_key_set_round_trips_through_its_json_form() -> None:
    entries = (
        default_key().entry,
        seeded_key(7, "b", status=KeyStatus.RETIRED, not_before=ISSUED_AT).entry,
        seeded_key(8, status=KeyStatus.REVOKED, not_after=VALID_UNTIL).entry,
    )
    assert KeySet.from_list(KeySet(entries).to_list()) == KeySet(entries)
    restored = SigningKey.from_dict(default_key().to_dict())
    assert restored.entry == default_key().entry
    assert isinstance(_verify(signed_text(restored), KeySet((restored.entry,))), VerifiedPass)


@pytest.mark.parametrize(
    "changes",
    [{"key_id": -1}, {"key_id": 0x10000}, {"public_key": b"\x00" * 31}, {"algorithm": "rsa"}],
)
def test_malformed_key_entry_is_refused(changes: dict[str, object]) -> None:
    fields = {"key_id": 1, "public_key": default_key().entry.public_key, **changes}
    with pytest.raises(ValueError):  # noqa: PT011 - KeyEntry documents ValueError only
        KeyEntry(**fields)


@pytest.mark.parametrize(
    ("validity", "code"),
    [
        (timedelta(days=400), None),
        (timedelta(days=400) + ONE_SECOND, Code.VALIDITY_TOO_LONG),
        (datetime(2106, 2, 7, tzinfo=UTC) - ISSUED_AT, Code.VALIDITY_TOO_LONG),
    ],
)
def test_a_pass_valid_for_longer_than_any_pass_is_issued_is_refused(
    validity: timedelta, code: Code | None
) -> None:
    # A key that signed before its retirement can still sign "backdated" passes if it leaks:
    # a far expiry gives it away at every gate.
    key = seeded_key(1).with_status(KeyStatus.RETIRED)
    text = signed_text(key, issued_at=ISSUED_AT, valid_until=ISSUED_AT + validity)

    check = _verify(text, KeySet((key.entry,)), now=NOW)

    if code is None:
        assert isinstance(check, VerifiedPass)
    else:
        assert isinstance(check, PassRejected)
        assert check.code is code
