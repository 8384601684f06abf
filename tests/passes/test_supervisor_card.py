"""Supervisor cards (SV1): exact shape, signature, validity, revocation, and golden vectors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from strategies import COMMUNITY, NOW, default_key, default_keyset, pass_fields, seeded_key

from passes import (
    CARD_PREFIX,
    CardRejected,
    CardState,
    Code,
    KeyEntry,
    KeySet,
    KeyStatus,
    PassError,
    PassRejected,
    SupervisorCard,
    VerifiedCard,
    card_for,
    card_standing,
    is_supervisor_card,
    parse_supervisor_card,
    qr_version,
    sign_screen_code,
    sign_supervisor_card,
    verify_pass,
    verify_screen_code,
    verify_supervisor_card,
)
from passes.screen_code import screen_code_for
from passes.supervisor_card import CARD_TEXT_LENGTH, MAX_CARD_VALIDITY

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "supervisor_card_v1.json").read_text("utf-8")
)
CARD_ID = bytes(range(12))


def _card(**changes: object) -> SupervisorCard:
    values: dict = {
        "key_id": 1,
        "card_id": CARD_ID,
        "account_id": 42,
        "community_id": COMMUNITY,
        "issued_at": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=30),
    }
    values.update(changes)
    return SupervisorCard(**values)


def _verify(text: str, now: datetime = NOW, keys: KeySet | None = None):
    return verify_supervisor_card(text, keys or default_keyset(), community_id=COMMUNITY, now=now)


def test_a_signed_card_has_its_prefix_and_length_fits_qr_8_and_verifies() -> None:
    text = sign_supervisor_card(default_key(), _card())
    assert text.startswith(CARD_PREFIX)
    assert len(text) == CARD_TEXT_LENGTH == 147
    assert qr_version(text) <= 8
    assert is_supervisor_card(text)
    assert not is_supervisor_card("CP1:" + text[4:])
    check = _verify(text)
    assert isinstance(check, VerifiedCard)
    assert (check.account_id, check.card_id) == (42, CARD_ID)


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (NOW - timedelta(days=2), Code.SUPERVISOR_CARD_INVALID),
        (NOW + timedelta(days=31), Code.SUPERVISOR_CARD_EXPIRED),
    ],
)
def test_a_card_outside_its_validity_is_refused(now: datetime, code: Code) -> None:
    check = _verify(sign_supervisor_card(default_key(), _card()), now)
    assert isinstance(check, CardRejected)
    assert check.code is code


def test_a_card_of_another_community_or_a_forged_or_revoked_key_is_invalid() -> None:
    other = sign_supervisor_card(default_key(), _card(community_id=COMMUNITY + 1))
    forged = sign_supervisor_card(seeded_key(1, "attacker"), _card())
    revoked_key = KeySet((default_key().with_status(KeyStatus.REVOKED).entry,))
    good = sign_supervisor_card(default_key(), _card())
    for check, detail in (
        (_verify(other), "wrong_community"),
        (_verify(forged), "bad_signature"),
        (_verify(good, keys=revoked_key), "key_revoked"),
        (_verify(good, keys=KeySet((seeded_key(9).entry,))), "unknown_key"),
        (_verify("hello"), "wrong_prefix"),
    ):
        assert isinstance(check, CardRejected)
        assert (check.code, check.detail) == (Code.SUPERVISOR_CARD_INVALID, detail)


def test_a_card_signature_is_not_a_pass_or_screen_code_signature() -> None:
    """Same key, three signing contexts: no text verifies as another kind."""
    key = default_key()
    card = sign_supervisor_card(key, _card())
    body_as_pass = "CP1:" + card[4:]
    check = verify_pass(body_as_pass, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(check, PassRejected)
    screen = sign_screen_code(
        key,
        screen_code_for(pass_fields(), key_id=1, valid_from=NOW, lifetime=timedelta(minutes=2)),
    )
    assert isinstance(_verify(screen), CardRejected)
    assert not isinstance(verify_screen_code(card, default_keyset(), NOW), VerifiedCard)


def test_revocation_and_the_issuers_list_decide_the_cards_standing_offline() -> None:
    check = _verify(sign_supervisor_card(default_key(), _card()))
    known = {CARD_ID: CardState(CARD_ID, 42, NOW + timedelta(days=30))}
    assert card_standing(check, known=known, revoked=frozenset()) is check
    revoked = card_standing(check, known=known, revoked={CARD_ID})
    assert isinstance(revoked, CardRejected)
    assert revoked.code is Code.SUPERVISOR_CARD_REVOKED
    unknown = card_standing(check, known={}, revoked=frozenset())
    assert isinstance(unknown, CardRejected)
    assert unknown.code is Code.SUPERVISOR_CARD_INVALID
    other_account = {CARD_ID: CardState(CARD_ID, 43, NOW)}
    assert isinstance(card_standing(check, known=other_account, revoked=()), CardRejected)


def test_card_fields_are_checked_on_construction() -> None:
    with pytest.raises(ValueError, match="card_id"):
        _card(card_id=b"short")
    with pytest.raises(ValueError, match="valid"):
        _card(valid_until=NOW - timedelta(days=5))
    with pytest.raises(ValueError, match="valid"):
        _card(valid_until=NOW + MAX_CARD_VALIDITY + timedelta(days=2))
    made = card_for(
        key_id=1,
        card_id=CARD_ID,
        account_id=5,
        community_id=COMMUNITY,
        issued_at=datetime(2026, 1, 1, 8, 0, 0, 123, tzinfo=UTC),
        valid_for=timedelta(days=10),
    )
    assert made.issued_at.microsecond == 0
    assert made.valid_until - made.issued_at == timedelta(days=10)


KEY = KeyEntry(
    key_id=VECTORS["key"]["key_id"], public_key=base64.b64decode(VECTORS["key"]["public_key"])
)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["fields"]["card_id"])
def test_golden_card_parses_to_its_fields_and_verifies(vector: dict) -> None:
    fields, _body, _signature = parse_supervisor_card(vector["text"])
    expected = vector["fields"]
    assert fields.card_id.hex() == expected["card_id"]
    assert (fields.key_id, fields.account_id) == (expected["key_id"], expected["account_id"])
    assert fields.community_id == expected["community_id"]
    assert fields.issued_at == datetime.fromisoformat(expected["issued_at"])
    assert fields.valid_until == datetime.fromisoformat(expected["valid_until"])
    check = verify_supervisor_card(
        vector["text"], KeySet((KEY,)), community_id=fields.community_id, now=fields.issued_at
    )
    assert isinstance(check, VerifiedCard)


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["detail"])
def test_golden_invalid_card_is_refused_with_its_detail(vector: dict) -> None:
    check = verify_supervisor_card(
        vector["text"], KeySet((KEY,)), community_id=1, now=datetime(2026, 11, 22, tzinfo=UTC)
    )
    assert isinstance(check, CardRejected)
    assert (check.code.value, check.detail) == (vector["code"], vector["detail"])


def test_parse_refuses_a_pass_text_as_a_card() -> None:
    with pytest.raises(PassError):
        parse_supervisor_card("CP1:" + "0" * 146)
