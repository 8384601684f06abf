"""Round trips of the v1 pass codec and of Base45 (RFC 9285), with canonical-only decoding."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import U16, U32, pass_fields_strategy, seeded_key

from passes import PREFIX, TEXT_LENGTH, Pass, PassError, parse_pass
from passes.base45 import ALPHABET, Base45Error, b45decode, b45encode
from passes.pass_format import BODY_LENGTH, SIGNATURE_LENGTH, encode_pass


@given(fields=pass_fields_strategy(), signature=st.binary(min_size=64, max_size=64))
def test_parse_of_encoded_pass_gives_back_its_fields(fields: Pass, signature: bytes) -> None:
    text = encode_pass(fields, signature)

    parsed = parse_pass(text)

    assert len(text) == TEXT_LENGTH
    assert parsed.fields == fields
    assert parsed.body == fields.body()
    assert parsed.signature == signature
    assert parsed.text() == text


@pytest.mark.parametrize(
    ("issued", "until"),
    [(0, 0), (0, U32), (U32, U32), (2**31 - 1, 2**31), (1_700_000_000, 1_700_000_000)],
)
@pytest.mark.parametrize(("small", "large"), [(0, 0), (U16, U32), (0, U32), (U16, 0)])
def test_field_boundaries_round_trip_through_a_signed_pass(
    issued: int, until: int, small: int, large: int
) -> None:
    key = seeded_key(small)
    fields = Pass(
        key_id=small,
        pass_id=bytes(12) if large == 0 else b"\xff" * 12,
        household_id=large,
        community_id=large,
        generation=small,
        issued_at=datetime.fromtimestamp(issued, UTC),
        valid_until=datetime.fromtimestamp(until, UTC),
    )

    parsed = parse_pass(key.sign(fields))

    assert parsed.fields == fields


@given(raw=st.binary(min_size=97, max_size=97))
def test_any_accepted_text_re_encodes_to_itself(raw: bytes) -> None:
    text = PREFIX + b45encode(b"\x01" + raw[1:])
    try:
        parsed = parse_pass(text)
    except PassError:
        return  # e.g. valid_until before issued_at: refused, nothing to re-encode
    assert parsed.text() == text
    assert parsed.body + parsed.signature == b"\x01" + raw[1:]


@given(payload=st.text(alphabet=ALPHABET, min_size=146, max_size=146))
def test_random_base45_payload_is_either_refused_or_re_encodes_to_itself(payload: str) -> None:
    text = PREFIX + payload
    try:
        parsed = parse_pass(text)
    except PassError as exc:
        detail = exc.detail
    else:
        assert parsed.text() == text
        return
    assert detail in {"bad_base45", "unknown_version", "bad_field"}


def test_parsed_pass_splits_into_33_signed_bytes_and_64_signature_bytes() -> None:
    raw = b"\x01" + os.urandom(32) + os.urandom(64)
    # fix the times so the body is a valid pass: issued_at = valid_until = 0
    raw = raw[:25] + bytes(8) + raw[33:]
    parsed = parse_pass(PREFIX + b45encode(raw))
    assert len(parsed.body) == BODY_LENGTH
    assert len(parsed.signature) == SIGNATURE_LENGTH
    assert parsed.body + parsed.signature == raw


# --- Base45 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
        (b"\x00", "00"),
        (b"\xff", "U5"),
        (b"\xff\xff", "FGW"),
    ],
)
def test_base45_matches_rfc_9285_examples(data: bytes, text: str) -> None:
    assert b45encode(data) == text
    assert b45decode(text) == data


@given(data=st.binary(max_size=300))
def test_base45_round_trip_of_any_bytes(data: bytes) -> None:
    text = b45encode(data)
    assert set(text) <= set(ALPHABET)
    assert len(text) == 3 * (len(data) // 2) + 2 * (len(data) % 2)
    assert b45decode(text) == data


@given(text=st.text(alphabet=ALPHABET, max_size=12))
@example(text="GGW")
@example(text="::")
@example(text="U5")
@example(text="V5")
def test_base45_decodes_only_canonical_text(text: str) -> None:
    try:
        data = b45decode(text)
    except Base45Error:
        return
    assert b45encode(data) == text


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # 65536: one more than two bytes hold (RFC 9285 section 4.2)
        ":::",  # 91124, the largest three-character group
        "V5",  # 256: one more than one byte holds
        "::",  # 2024
        "0",  # length 3k+1
        "0000",
        "bb8",  # lowercase is not in the alphabet
        "BB\x00",
        "BB=",
    ],
)
def test_base45_refuses_non_canonical_or_foreign_text(text: str) -> None:
    with pytest.raises(Base45Error):
        b45decode(text)
