"""Generated passwords are easy to read and type (lower case, no 0/o/1/l/i, groups of four)
yet as strong as before (99 bits), and a login accepts one typed without its dashes, with
spaces or in capitals; a password a person chose is still matched exactly."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.accounts.operations import LoginPolicy, check_login, create_user, log_in, verify_login
from gate.accounts.passwords import (
    GENERATED_ALPHABET,
    check_policy,
    generate_password,
    generated_spelling,
)
from gate.community.models import Community

SHAPE = re.compile(
    r"[23456789abcdefghjkmnpqrstuvwxyz]{4}(-[23456789abcdefghjkmnpqrstuvwxyz]{4}){4}"
)
POLICY = LoginPolicy(max_failures=5, window_seconds=900)
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_generated_passwords_have_the_easy_shape_and_pass_the_policy() -> None:
    seen = set()
    for _ in range(300):
        password = generate_password("zhang")
        assert SHAPE.fullmatch(password), password
        check_policy(password, username="zhang")
        seen.add(password)
    assert len(seen) == 300


def test_the_alphabet_has_no_lookalikes_and_twenty_characters_give_over_96_bits() -> None:
    assert not set("0o1li") & set(GENERATED_ALPHABET)
    assert len(set(GENERATED_ALPHABET)) == len(GENERATED_ALPHABET) == 31
    bits = 20 * math.log2(len(GENERATED_ALPHABET))
    assert bits > 96  # secrets.token_urlsafe(12), the former generated password
    assert round(bits, 1) == 99.1


def test_a_generated_password_never_contains_the_username() -> None:
    for _ in range(200):
        assert "abc" not in generate_password("abc")


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("K7MX-3HQA-VW9E-P2RT-U8ND", "k7mx-3hqa-vw9e-p2rt-u8nd"),
        ("k7mx3hqavw9ep2rtu8nd", "k7mx-3hqa-vw9e-p2rt-u8nd"),
        ("k7mx 3hqa vw9e p2rt u8nd", "k7mx-3hqa-vw9e-p2rt-u8nd"),
        (" k7mx3hqa-VW9E p2rtu8nd ", "k7mx-3hqa-vw9e-p2rt-u8nd"),
        ("k7mx-3hqa-vw9e-p2rt-u8nd", None),  # already the form: nothing else to try
        ("k7mx-3hqa-vw9e-p2rt-u8n", None),  # 19 characters
        ("k7mx-3hqa-vw9e-p2rt-u8n0", None),  # 0 is never generated
        ("correct-horse-battery", None),
    ],
)
def test_generated_spelling(typed: str, canonical: str | None) -> None:
    assert generated_spelling(typed) == canonical


def _user(session: Session, password: str) -> None:
    community = Community(name="测试社区", code="gp")
    session.add(community)
    session.flush()
    create_user(
        session,
        community_id=community.id,
        username="gloves",
        password=password,
        role=Role.VOLUNTEER,
        actor="test",
    )


def _login(session: Session, password: str) -> str | None:
    result = log_in(
        session, username="gloves", password=password, remote_addr=None, now=NOW, policy=POLICY
    )
    return result.refusal


def test_a_generated_password_logs_in_however_it_is_typed(db_session: Session) -> None:
    password = generate_password("gloves")
    _user(db_session, password)
    for typed in (
        password,
        password.upper(),
        password.replace("-", ""),
        password.replace("-", " "),
    ):
        assert _login(db_session, typed) is None, typed
    assert _login(db_session, password[:-1] + ("2" if password[-1] != "2" else "3")) == (
        "bad_credentials"
    )


def test_a_chosen_password_is_matched_exactly(db_session: Session) -> None:
    _user(db_session, "K7MX-3HQA-VW9E-P2RT-U8ND")  # the shape, but in capitals: chosen
    assert _login(db_session, "K7MX-3HQA-VW9E-P2RT-U8ND") is None
    assert _login(db_session, "k7mx-3hqa-vw9e-p2rt-u8nd") == "bad_credentials"
    assert _login(db_session, "K7MX3HQAVW9EP2RTU8ND") == "bad_credentials"


def test_a_loose_spelling_of_a_generated_password_costs_an_unknown_user_as_much(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gate.accounts.operations as operations

    calls: list[str] = []
    monkeypatch.setattr(operations, "burn_time", calls.append)
    check = check_login(db_session, username="nobody", remote_addr=None, now=NOW, policy=POLICY)
    verify_login(check, "K7MX3HQAVW9EP2RTU8ND")
    assert calls == ["K7MX3HQAVW9EP2RTU8ND", "k7mx-3hqa-vw9e-p2rt-u8nd"]
