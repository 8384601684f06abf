"""Rotating screen codes (CS1): exact shape, signature, short validity, and the decision they
lead to (the same as for the pass they stand for)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    COMMUNITY,
    NOW,
    default_key,
    default_keyset,
    household,
    pass_fields,
    seeded_key,
)

from passes import (
    SCREEN_PREFIX,
    Code,
    Direction,
    HouseholdState,
    HouseholdStatus,
    KeySet,
    KeyStatus,
    Pass,
    PassCheck,
    PassRejected,
    RuleSet,
    ScreenCode,
    SigningKey,
    Verdict,
    VerifiedPass,
    VerifiedScreenCode,
    decide,
    is_screen_code,
    parse_screen_code,
    reason,
    screen_code_for,
    screen_pass_check,
    sign_screen_code,
    verify_screen_code,
)
from passes.base45 import b45decode, b45encode
from passes.screen_code import (
    MAX_LIFETIME_SECONDS,
    SCREEN_BODY_LENGTH,
    SCREEN_SIGNING_CONTEXT,
    SCREEN_TEXT_LENGTH,
)

LIFETIME = timedelta(minutes=3)


def _code(
    key: SigningKey | None = None,
    *,
    fields: Pass | None = None,
    valid_from: datetime = NOW,
    lifetime: timedelta = LIFETIME,
) -> str:
    key = key or default_key()
    screen = screen_code_for(
        fields or pass_fields(), key_id=key.entry.key_id, valid_from=valid_from, lifetime=lifetime
    )
    return sign_screen_code(key, screen)


def _flip(text: str, bit: int) -> str:
    raw = bytearray(b45decode(text[len(SCREEN_PREFIX) :]))
    raw[bit // 8] ^= 1 << (bit % 8)
    return SCREEN_PREFIX + b45encode(bytes(raw))


def _decide(
    check: PassCheck | str,
    state: HouseholdState | None = None,
    *,
    now: datetime = NOW,
) -> Verdict:
    return decide(
        check,
        keys=default_keyset(),
        community_id=COMMUNITY,
        household=state if state is not None else household(),
        revoked_pass_ids=frozenset(),
        rules=RuleSet(),
        direction=Direction.OUT,
        temperature=365,
        now=now,
    )


def test_a_signed_screen_code_round_trips_and_names_its_pass() -> None:
    text = _code()
    check = verify_screen_code(text, default_keyset(), NOW)
    assert len(text) == SCREEN_TEXT_LENGTH == 138
    assert is_screen_code(text)
    assert isinstance(check, VerifiedScreenCode)
    assert check.pass_id == pass_fields().pass_id
    assert check.generation == 1
    assert check.fields.valid_until == NOW + LIFETIME


@given(
    pass_id=st.binary(min_size=12, max_size=12),
    generation=st.integers(0, 0xFFFF),
    start=st.integers(0, 0xFFFFFFFF - MAX_LIFETIME_SECONDS),
    lifetime=st.integers(0, MAX_LIFETIME_SECONDS),
)
def test_any_screen_code_parses_back_to_its_fields(
    pass_id: bytes, generation: int, start: int, lifetime: int
) -> None:
    fields = ScreenCode(
        key_id=1,
        pass_id=pass_id,
        generation=generation,
        valid_from=datetime.fromtimestamp(start, UTC),
        valid_until=datetime.fromtimestamp(start + lifetime, UTC),
    )
    text = sign_screen_code(default_key(), fields)
    assert parse_screen_code(text).fields == fields
    assert len(text) == SCREEN_TEXT_LENGTH


def test_every_single_bit_flip_is_refused() -> None:
    text = _code()
    checks = [
        verify_screen_code(_flip(text, bit), default_keyset(), NOW)
        for bit in range((SCREEN_BODY_LENGTH + 64) * 8)
    ]
    assert all(isinstance(check, PassRejected) for check in checks)
    codes = {check.code for check in checks if isinstance(check, PassRejected)}
    assert codes <= {Code.BAD_FORMAT, Code.UNKNOWN_KEY, Code.BAD_SIGNATURE}, codes


def test_a_code_is_valid_through_valid_until_and_stale_one_second_later() -> None:
    text = _code()
    at_end = verify_screen_code(text, default_keyset(), NOW + LIFETIME)
    after = verify_screen_code(text, default_keyset(), NOW + LIFETIME + timedelta(seconds=1))
    early = verify_screen_code(text, default_keyset(), NOW - timedelta(seconds=1))
    assert isinstance(at_end, VerifiedScreenCode)
    assert isinstance(after, PassRejected)
    assert after.code is Code.SCREEN_CODE_STALE
    assert isinstance(early, PassRejected)
    assert early.code is Code.NOT_YET_VALID


def test_a_code_signed_by_another_key_is_refused() -> None:
    stranger = seeded_key(1, "stranger")  # same key id, different key
    other_id = seeded_key(7)
    same_id = verify_screen_code(_code(stranger), default_keyset(), NOW)
    unknown = verify_screen_code(_code(other_id), default_keyset(), NOW)
    assert isinstance(same_id, PassRejected)
    assert same_id.code is Code.BAD_SIGNATURE
    assert isinstance(unknown, PassRejected)
    assert unknown.code is Code.UNKNOWN_KEY


def test_a_revoked_key_or_one_outside_its_period_refuses_its_codes() -> None:
    key = default_key()
    revoked = KeySet((replace(key.entry, status=KeyStatus.REVOKED),))
    retired = KeySet((replace(key.entry, not_after=NOW - timedelta(hours=1)),))
    assert verify_screen_code(_code(), revoked, NOW).code is Code.KEY_REVOKED  # type: ignore[union-attr]
    assert verify_screen_code(_code(), retired, NOW).code is Code.KEY_NOT_VALID  # type: ignore[union-attr]


def test_a_pass_signature_is_not_a_screen_code_signature() -> None:
    # Same key, a pass's signing context: the bytes are not a screen code's signature.
    key = default_key()
    screen = screen_code_for(pass_fields(), key_id=1, valid_from=NOW, lifetime=LIFETIME)
    wrong_context = key.private_key.sign(b"checkpoint/pass/v1\x00" + screen.body())
    forged = SCREEN_PREFIX + b45encode(screen.body() + wrong_context)
    right = key.private_key.sign(SCREEN_SIGNING_CONTEXT + screen.body())
    assert SCREEN_PREFIX + b45encode(screen.body() + right) == _code()
    check = verify_screen_code(forged, default_keyset(), NOW)
    assert isinstance(check, PassRejected)
    assert check.code is Code.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("mangle", "detail"),
    [
        (lambda t: t.lower(), "lowercase"),
        (lambda t: "CP1:" + t[4:], "wrong_prefix"),
        (lambda t: t[:-1], "wrong_length"),
        (lambda t: t + "0", "wrong_length"),
        (lambda t: t[:-1] + "a", "lowercase"),
        (lambda t: t[:-1] + "#", "bad_character"),
        (lambda t: t[:-3] + ":::", "bad_base45"),
        (lambda t: "x" * 600, "oversize"),
    ],
)
def test_the_parser_accepts_exactly_one_shape(mangle: object, detail: str) -> None:
    check = verify_screen_code(mangle(_code()), default_keyset(), NOW)  # type: ignore[operator]
    assert isinstance(check, PassRejected)
    assert (check.code, check.detail) == (Code.BAD_FORMAT, detail)


def test_wrong_version_and_overlong_validity_are_malformed() -> None:
    raw = bytearray(b45decode(_code()[len(SCREEN_PREFIX) :]))
    raw[0] = 2
    assert verify_screen_code(  # type: ignore[union-attr]
        SCREEN_PREFIX + b45encode(bytes(raw)), default_keyset(), NOW
    ).detail == ("unknown_version")
    with pytest.raises(ValueError, match="lives"):
        screen_code_for(pass_fields(), key_id=1, valid_from=NOW, lifetime=timedelta(hours=1))
    assert verify_screen_code(None, default_keyset(), NOW).detail == "not_text"  # type: ignore[union-attr]


def test_a_verified_code_decides_like_the_pass_it_stands_for() -> None:
    fields = pass_fields()
    screen = verify_screen_code(_code(fields=fields), default_keyset(), NOW)
    check = screen_pass_check(screen, fields, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(check, VerifiedPass)
    assert check.fields == fields
    out_once = household(exits=(NOW - timedelta(hours=1),), out_since=())
    by_screen = _decide(check, out_once)
    by_pass = _decide(default_key().sign(fields), out_once)
    assert by_screen == by_pass
    assert by_screen.code is Code.QUOTA
    assert _decide(check).allowed


def test_a_reissued_pass_makes_its_old_screen_codes_superseded() -> None:
    old = pass_fields(generation=1)
    screen = verify_screen_code(_code(fields=old), default_keyset(), NOW)
    check = screen_pass_check(screen, old, default_keyset(), community_id=COMMUNITY, now=NOW)
    verdict = _decide(check, household(generation=2))
    assert verdict.code is Code.SUPERSEDED
    # A code naming another generation than the stored pass's is refused outright.
    bumped = replace(old, generation=2)
    mismatch = screen_pass_check(screen, bumped, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(mismatch, PassRejected)
    assert mismatch.code is Code.SUPERSEDED


@pytest.mark.parametrize(
    ("issued", "community", "now", "expected"),
    [
        (None, COMMUNITY, NOW, Code.UNKNOWN_HOUSEHOLD),
        (pass_fields(serial=9), COMMUNITY, NOW, Code.UNKNOWN_HOUSEHOLD),  # another pass id
        (pass_fields(), COMMUNITY + 1, NOW, Code.WRONG_COMMUNITY),
        (pass_fields(valid_until=NOW - timedelta(seconds=1)), COMMUNITY, NOW, Code.EXPIRED),
        (pass_fields(issued_at=NOW + timedelta(days=1)), COMMUNITY, NOW, Code.NOT_YET_VALID),
    ],
)
def test_the_underlying_pass_is_checked_like_a_presented_one(
    issued: Pass | None, community: int, now: datetime, expected: Code
) -> None:
    screen = verify_screen_code(_code(), default_keyset(), NOW)
    check = screen_pass_check(screen, issued, default_keyset(), community_id=community, now=now)
    assert isinstance(check, PassRejected)
    assert check.code is expected


def test_the_underlying_passs_key_must_still_be_known_and_unrevoked() -> None:
    screen_key, pass_key = seeded_key(2), default_key()
    keys = KeySet((screen_key.entry, replace(pass_key.entry, status=KeyStatus.REVOKED)))
    screen = verify_screen_code(_code(screen_key), keys, NOW)
    revoked = screen_pass_check(screen, pass_fields(), keys, community_id=COMMUNITY, now=NOW)
    unknown = screen_pass_check(
        screen, pass_fields(), KeySet((screen_key.entry,)), community_id=COMMUNITY, now=NOW
    )
    assert isinstance(revoked, PassRejected)
    assert revoked.code is Code.KEY_REVOKED
    assert isinstance(unknown, PassRejected)
    assert unknown.code is Code.UNKNOWN_KEY


def test_a_rejected_screen_code_passes_through_and_decides_a_refusal() -> None:
    late = NOW + LIFETIME + timedelta(seconds=1)
    screen = verify_screen_code(_code(), default_keyset(), late)
    check = screen_pass_check(
        screen, pass_fields(), default_keyset(), community_id=COMMUNITY, now=late
    )
    verdict = _decide(check, now=late)
    assert check is screen
    assert verdict.code is Code.SCREEN_CODE_STALE
    assert verdict.household_id is None


def test_a_pass_text_is_not_a_screen_code() -> None:
    text = default_key().sign(pass_fields())
    assert not is_screen_code(text)
    assert verify_screen_code(text, default_keyset(), NOW).detail == "wrong_prefix"  # type: ignore[union-attr]


GOLDEN_CS1 = (
    "CS1:V50L904CGK71%KD4GT8XFJD43803D0RCK4D0-UA6NQAVB0PN81P$84K$NA:F01G8CQ46DB$GAFMF+41A8FX7T"
    "6536153UOP5QH3KVJ2IC4/35+B8M23MCGEL3B7WD0T T-ZBF0"
)
"""CS1 golden vector: key 1 of the test seeds, pass serial 0 generation 1, valid from NOW for
three minutes. Never edit: a change here means the wire format changed."""


def test_the_cs1_golden_vector_never_changes() -> None:
    assert _code() == GOLDEN_CS1
    parsed = parse_screen_code(GOLDEN_CS1).fields
    assert (parsed.key_id, parsed.pass_id, parsed.generation) == (1, pass_fields().pass_id, 1)
    assert (parsed.valid_from, parsed.valid_until) == (NOW, NOW + LIFETIME)


def test_a_three_minute_old_screenshot_is_screen_code_stale_not_an_expired_pass() -> None:
    """The server's codes live 2 min 30 s from 30 s in the past (gate.issuing.screen_codes)."""
    made = NOW - timedelta(minutes=3)
    text = _code(valid_from=made - timedelta(seconds=30), lifetime=timedelta(seconds=150))
    check = verify_screen_code(text, default_keyset(), NOW)
    assert isinstance(check, PassRejected)
    verdict = _decide(check)
    assert (check.code, check.detail) == (Code.SCREEN_CODE_STALE, "screen_code_stale")
    assert not verdict.allowed
    assert verdict.code is Code.SCREEN_CODE_STALE
    assert reason(verdict.code) == "动态码已过期，请让住户刷新页面"
    assert reason(Code.EXPIRED) == "出入证已过期"
    assert Code.SCREEN_CODE_STALE.value == "screen_code_stale"
    # Its card, by contrast, is still good: only the screenshot is out of date.
    assert _decide(default_key().sign(pass_fields())).allowed


_SCENARIOS = [
    household(),
    household(exits=(NOW - timedelta(hours=1),), out_since=()),
    household(out_since=(NOW - timedelta(hours=1),)),
    household(status=HouseholdStatus.QUARANTINED, quarantine_until=NOW + timedelta(days=3)),
    household(status=HouseholdStatus.EXEMPT, exits=(NOW - timedelta(hours=1),)),
    household(generation=2),
]


@pytest.mark.parametrize("state", _SCENARIOS)
@pytest.mark.parametrize("temperature", [365, 380, None])
@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
def test_a_fresh_screen_code_decides_exactly_like_its_card(
    state: HouseholdState, temperature: int | None, direction: Direction
) -> None:
    fields = pass_fields()
    fresh = _code(fields=fields, valid_from=NOW - timedelta(seconds=30))
    screen = verify_screen_code(fresh, default_keyset(), NOW)
    check = screen_pass_check(screen, fields, default_keyset(), community_id=COMMUNITY, now=NOW)

    def verdict(presented: PassCheck | str) -> Verdict:
        return decide(
            presented,
            keys=default_keyset(),
            community_id=COMMUNITY,
            household=state,
            revoked_pass_ids=frozenset(),
            rules=RuleSet(),
            direction=direction,
            temperature=temperature,
            now=NOW,
        )

    assert verdict(check) == verdict(default_key().sign(fields))
