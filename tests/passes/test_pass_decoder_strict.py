"""The decoder accepts exactly one shape; everything else is a typed ``bad_format`` rejection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import COMMUNITY, NOW, arbitrary_objects, default_keyset, signed_text

from passes import (
    MAX_INPUT_LENGTH,
    PREFIX,
    TEXT_LENGTH,
    Code,
    PassError,
    PassRejected,
    VerifiedPass,
    parse_pass,
    verify_pass,
)
from passes.base45 import ALPHABET, b45decode, b45encode

VALID = signed_text()
PAYLOAD = VALID[len(PREFIX) :]


def _with_payload_char(index: int, char: str) -> str:
    return PREFIX + PAYLOAD[:index] + char + PAYLOAD[index + 1 :]


def _raw(text: str) -> bytes:
    return b45decode(text[len(PREFIX) :])


def _encode(raw: bytes) -> str:
    return PREFIX + b45encode(raw)


CASES = {
    "wrong_prefix": [
        "CP2:" + PAYLOAD,
        "XP1:" + PAYLOAD,
        "CP1 " + PAYLOAD,
        " " + VALID[:-1],
        PAYLOAD + "ABCD",
        "",
        "C",
        "https://example.org/?p=" + PAYLOAD,
        "\x00" + VALID[1:],
        "\U0001f600" + VALID[1:],
    ],
    "lowercase": [
        "cp1:" + PAYLOAD,
        "Cp1:" + PAYLOAD,
        VALID.lower(),
        _with_payload_char(10, "a"),
        _with_payload_char(145, "z"),
    ],
    "wrong_length": [
        PREFIX,
        VALID[:-1],
        VALID[:-3],
        VALID + "0",  # trailing data
        VALID + "00",
        VALID + "000",
        VALID + VALID[len(PREFIX) :],  # the payload twice
        VALID + "\n",
        VALID + "\x00",
        VALID + "\U0001f600",
        PREFIX + "0" * 147,
    ],
    "bad_character": [
        _with_payload_char(0, "\x00"),
        _with_payload_char(70, "\U0001f600"),
        _with_payload_char(20, "="),
        _with_payload_char(30, "\n"),
        _with_payload_char(40, "é"),
        _with_payload_char(50, "Ａ"),  # fullwidth A
        _with_payload_char(60, "_"),
    ],
    "oversize": [
        VALID * 4,
        "A" * (MAX_INPUT_LENGTH + 1),
        "\U0001f600" * 100_000,
        PREFIX + "0" * 10**6,
    ],
    "bad_base45": [
        PREFIX + ":" * 146,  # every three-character group exceeds 0xFFFF
        PREFIX + PAYLOAD[:-2] + "::",  # last one-byte group exceeds 0xFF
        PREFIX + "GGW" + PAYLOAD[3:],  # 65536
    ],
    "unknown_version": [
        _encode(b"\x02" + _raw(VALID)[1:]),
        _encode(b"\x00" + _raw(VALID)[1:]),
        _encode(b"\xff" + _raw(VALID)[1:]),
    ],
    "bad_field": [
        # valid_until (bytes 29..32) before issued_at (bytes 25..28)
        _encode(
            _raw(VALID)[:25] + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + _raw(VALID)[33:]
        ),
    ],
}


@pytest.mark.parametrize(
    ("detail", "text"),
    [(detail, text) for detail, texts in CASES.items() for text in texts],
    ids=[f"{detail}-{i}" for detail, texts in CASES.items() for i in range(len(texts))],
)
def test_malformed_text_is_refused_with_bad_format_and_its_detail(detail: str, text: str) -> None:
    with pytest.raises(PassError) as info:
        parse_pass(text)

    assert info.value.code is Code.BAD_FORMAT
    assert info.value.detail == detail
    check = verify_pass(text, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(check, PassRejected)
    assert (check.code, check.detail, check.fields) == (Code.BAD_FORMAT, detail, None)


@pytest.mark.parametrize(
    "thing",
    [
        None,
        b"",
        VALID.encode(),
        bytearray(VALID.encode()),
        0,
        1.5,
        True,
        [VALID],
        {VALID: 1},
        object(),
    ],
)
def test_anything_but_text_is_refused_with_not_text(thing: object) -> None:
    with pytest.raises(PassError) as info:
        parse_pass(thing)
    assert (info.value.code, info.value.detail) == (Code.BAD_FORMAT, "not_text")
    check = verify_pass(thing, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(check, PassRejected)
    assert check.detail == "not_text"


def test_valid_text_of_exactly_the_pass_length_parses() -> None:
    assert len(VALID) == TEXT_LENGTH == 150
    assert parse_pass(VALID).text() == VALID
    assert isinstance(
        verify_pass(VALID, default_keyset(), community_id=COMMUNITY, now=NOW), VerifiedPass
    )


def test_oversize_check_comes_before_the_prefix_check() -> None:
    with pytest.raises(PassError) as info:
        parse_pass("x" * (MAX_INPUT_LENGTH + 1))
    assert info.value.detail == "oversize"
    with pytest.raises(PassError) as info:
        parse_pass("x" * MAX_INPUT_LENGTH)
    assert info.value.detail == "wrong_prefix"


@settings(max_examples=300)
@given(
    text=st.text(max_size=600)
    | st.text(alphabet=ALPHABET + "cp1:", max_size=160).map(lambda t: PREFIX + t)
)
def test_parse_of_any_text_raises_nothing_but_pass_error(text: str) -> None:
    try:
        parse_pass(text)
    except PassError as exc:
        code = exc.code
    else:
        return
    assert code is Code.BAD_FORMAT


@settings(max_examples=300)
@given(
    text=st.text(max_size=600)
    | st.builds(lambda t: PREFIX + t, st.text(alphabet=ALPHABET, min_size=146, max_size=146))
)
def test_verify_of_any_text_never_raises(text: str) -> None:
    check = verify_pass(text, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(check, PassRejected)


@given(thing=arbitrary_objects())
def test_parse_and_verify_of_arbitrary_objects_never_escape_pass_error(thing: object) -> None:
    with pytest.raises(PassError) as info:
        parse_pass(thing)
    assert info.value.code is Code.BAD_FORMAT
    check = verify_pass(
        thing, default_keyset(), community_id=COMMUNITY, now=datetime(2026, 5, 1, tzinfo=UTC)
    )
    assert isinstance(check, PassRejected)
    assert check.code is Code.BAD_FORMAT
