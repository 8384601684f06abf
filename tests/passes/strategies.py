"""Shared hypothesis strategies and small builders for the tests of ``passes``.

Keys are derived from fixed seeds so a failing example replays exactly. Nothing here
reads the clock: every time is a literal or drawn by hypothesis.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from passes import (
    Direction,
    ExitHours,
    HouseholdState,
    KeyEntry,
    KeySet,
    Pass,
    Quota,
    RuleSet,
    SigningKey,
    TemperatureRules,
    WindowKind,
    decide,
)
from passes.decision import Override, Verdict

U16 = 0xFFFF
U32 = 0xFFFFFFFF
SHANGHAI = ZoneInfo("Asia/Shanghai")

COMMUNITY = 4401
HOUSEHOLD = 120_301
ISSUED_AT = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
NORMAL_TEMPERATURE = 365


def seeded_key(key_id: int, seed: str = "", **entry_fields: object) -> SigningKey:
    """A signing key derived from ``(key_id, seed)``: the same arguments give the same key."""
    private = Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"checkpoint-test-key/{key_id}/{seed}".encode()).digest()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey(KeyEntry(key_id=key_id, public_key=public, **entry_fields), private)


@cache
def default_key() -> SigningKey:
    """The key the community's passes are signed with in most tests (key id 1)."""
    return seeded_key(1)


def default_keyset() -> KeySet:
    return KeySet((default_key().entry,))


def pass_fields(
    *,
    key_id: int = 1,
    serial: int = 0,
    household_id: int = HOUSEHOLD,
    community_id: int = COMMUNITY,
    generation: int = 1,
    issued_at: datetime = ISSUED_AT,
    valid_until: datetime = VALID_UNTIL,
) -> Pass:
    """Pass fields with sensible defaults; ``serial`` makes a distinct, repeatable pass id."""
    return Pass(
        key_id=key_id,
        pass_id=hashlib.sha256(f"pass/{serial}".encode()).digest()[:12],
        household_id=household_id,
        community_id=community_id,
        generation=generation,
        issued_at=issued_at,
        valid_until=valid_until,
    )


def signed_text(key: SigningKey | None = None, **fields: object) -> str:
    """A pass text signed by ``key`` (default: :func:`default_key`)."""
    key = key or default_key()
    return key.sign(pass_fields(key_id=key.entry.key_id, **fields))


def household(**changes: object) -> HouseholdState:
    return HouseholdState(household_id=HOUSEHOLD, **changes)


def crossing(
    *,
    direction: Direction = Direction.OUT,
    now: datetime = NOW,
    state: HouseholdState | None = None,
    rules: RuleSet | None = None,
    temperature: object = NORMAL_TEMPERATURE,
    override: Override | None = None,
    text: str | None = None,
    keys: KeySet | None = None,
) -> Verdict:
    """``decide`` for the default household's pass, with every argument defaultable."""
    return decide(
        text if text is not None else signed_text(),
        keys=keys or default_keyset(),
        community_id=COMMUNITY,
        household=state if state is not None else household(),
        revoked_pass_ids=frozenset(),
        rules=rules or RuleSet(),
        direction=direction,
        temperature=temperature,
        now=now,
        override=override,
    )


def local(*args: int) -> datetime:
    """A wall-clock time in Asia/Shanghai as an aware UTC datetime."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


# --- strategies -------------------------------------------------------------------------


def bounded_int(maximum: int) -> st.SearchStrategy[int]:
    """Integers in ``0..maximum`` that hit 0, 1, max-1 and max often."""
    return st.one_of(st.sampled_from([0, 1, maximum - 1, maximum]), st.integers(0, maximum))


def epoch_seconds() -> st.SearchStrategy[int]:
    """u32 Unix seconds, with the edges (0, 2**31 boundary, 2**32-1) drawn often."""
    return st.one_of(st.sampled_from([0, 1, 2**31 - 1, 2**31, U32 - 1, U32]), st.integers(0, U32))


@st.composite
def pass_fields_strategy(draw: st.DrawFn) -> Pass:
    """Any valid v1 :class:`Pass` (issued_at <= valid_until, both in the u32 range)."""
    a, b = sorted((draw(epoch_seconds()), draw(epoch_seconds())))
    return Pass(
        key_id=draw(bounded_int(U16)),
        pass_id=draw(st.binary(min_size=12, max_size=12)),
        household_id=draw(bounded_int(U32)),
        community_id=draw(bounded_int(U32)),
        generation=draw(bounded_int(U16)),
        issued_at=datetime.fromtimestamp(a, UTC),
        valid_until=datetime.fromtimestamp(b, UTC),
    )


ZONES = ("Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham")


@st.composite
def rule_sets(draw: st.DrawFn, *, zones: tuple[str, ...] = ZONES) -> RuleSet:
    """Any valid :class:`RuleSet` (times at whole minutes, as the JSON form allows)."""
    quota = draw(
        st.none()
        | st.builds(
            Quota,
            exits=st.integers(1, 100),
            window=st.just(WindowKind.CALENDAR_DAYS),
            length=st.integers(1, 366),
        )
        | st.builds(
            Quota,
            exits=st.integers(1, 100),
            window=st.just(WindowKind.ROLLING_HOURS),
            length=st.integers(1, 24 * 366),
        )
    )
    clock = st.builds(time, st.integers(0, 23), st.integers(0, 59))
    exit_hours = draw(
        st.none()
        | st.tuples(clock, clock)
        .filter(lambda pair: pair[0] != pair[1])
        .map(lambda p: ExitHours(*p))
    )
    low = draw(st.integers(300, 448))
    high = draw(st.integers(low + 1, 450))
    fever = draw(st.integers(low + 1, high))
    return RuleSet(
        version=draw(st.integers(1, 2**31 - 1)),
        timezone=draw(st.sampled_from(zones)),
        quota=quota,
        max_out_at_once=draw(st.integers(1, 99)),
        exit_hours=exit_hours,
        max_outside_minutes=draw(st.none() | st.integers(1, 60 * 24 * 30)),
        temperature=TemperatureRules(
            required=draw(st.booleans()),
            fever_threshold_tenths=fever,
            plausible_min_tenths=low,
            plausible_max_tenths=high,
        ),
    )


def arbitrary_objects() -> st.SearchStrategy[object]:
    """Things a caller might hand the decoder by mistake: bytes, None, numbers, containers."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.binary(max_size=600),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.just(b"CP1:" + b"0" * 146),
        st.just(bytearray(b"CP1:")),
    )


ONE_SECOND = timedelta(seconds=1)
