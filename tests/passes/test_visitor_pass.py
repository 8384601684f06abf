"""Visitor passes (VP1): exact shape, domain separation, golden vectors, and the decision."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from strategies import COMMUNITY, NOW, default_key, default_keyset, pass_fields

from passes import (
    VISITOR_PREFIX,
    Code,
    Direction,
    KeyEntry,
    KeySet,
    PassError,
    RuleSet,
    SigningKey,
    VerifiedVisitorPass,
    VisitorKind,
    VisitorPassRejected,
    consumes,
    decide_visitor,
    decide_walk_in,
    is_visitor_pass,
    parse_visitor_pass,
    qr_version,
    sign_visitor_pass,
    verify_pass,
    verify_supervisor_card,
    verify_visitor_pass,
    visitor_pass_for,
)
from passes.visitor_pass import MAX_VISITOR_VALIDITY, VISITOR_TEXT_LENGTH

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "visitor_pass_v1.json").read_text("utf-8")
)
PASS_ID = bytes(range(12))
RULES = RuleSet(timezone="Asia/Shanghai")


def _text(*, single_use: bool = True, kind: VisitorKind = VisitorKind.VISITOR, **changes: object):
    values: dict = {
        "key_id": 1,
        "pass_id": PASS_ID,
        "community_id": COMMUNITY,
        "valid_from": NOW - timedelta(hours=1),
        "valid_until": NOW + timedelta(hours=8),
        "single_use": single_use,
        "kind": kind,
    }
    values.update(changes)
    return sign_visitor_pass(default_key(), visitor_pass_for(**values))


def _decide(text: str, **changes: object):
    arguments: dict = {
        "keys": default_keyset(),
        "community_id": COMMUNITY,
        "used_pass_ids": frozenset(),
        "revoked_pass_ids": frozenset(),
        "rules": RULES,
        "direction": Direction.IN,
        "temperature": 365,
        "now": NOW,
    }
    arguments.update(changes)
    return decide_visitor(text, **arguments)


def test_text_is_144_characters_and_fits_qr_version_8() -> None:
    text = _text()
    assert text.startswith(VISITOR_PREFIX)
    assert len(text) == VISITOR_TEXT_LENGTH == 144
    assert is_visitor_pass(text)
    assert qr_version(text) <= 8


def test_round_trip_keeps_every_field() -> None:
    text = _text(single_use=False, kind=VisitorKind.MEDICAL)
    fields, _body, _signature = parse_visitor_pass(text)
    assert fields.pass_id == PASS_ID
    assert fields.kind is VisitorKind.MEDICAL
    assert not fields.single_use
    assert fields.community_id == COMMUNITY


def test_validity_longer_than_the_cap_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="valid"):
        _text(valid_until=NOW - timedelta(hours=1) + MAX_VISITOR_VALIDITY + timedelta(seconds=1))


def test_visitor_pass_is_not_a_household_pass_nor_a_card_and_back() -> None:
    visitor = _text()
    assert verify_pass(visitor, default_keyset(), community_id=COMMUNITY, now=NOW).code is (
        Code.BAD_FORMAT
    )
    card = verify_supervisor_card(visitor, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert card.code is Code.SUPERVISOR_CARD_INVALID
    household = default_key().sign(pass_fields())
    check = verify_visitor_pass(household, default_keyset(), community_id=COMMUNITY)
    assert isinstance(check, VisitorPassRejected)
    assert check.detail == "wrong_prefix"


def test_signature_over_another_context_does_not_verify() -> None:
    fields = visitor_pass_for(
        key_id=1,
        pass_id=PASS_ID,
        community_id=COMMUNITY,
        valid_from=NOW,
        valid_until=NOW + timedelta(hours=1),
        single_use=True,
        kind=VisitorKind.VISITOR,
    )
    from passes.base45 import b45encode

    foreign = default_key().private_key.sign(b"checkpoint/pass/v1\x00" + fields.body())
    text = VISITOR_PREFIX + b45encode(fields.body() + foreign)
    check = verify_visitor_pass(text, default_keyset(), community_id=COMMUNITY)
    assert isinstance(check, VisitorPassRejected)
    assert check.code is Code.BAD_SIGNATURE


def test_another_communitys_visitor_pass_is_refused() -> None:
    assert _decide(_text(community_id=COMMUNITY + 1)).code is Code.WRONG_COMMUNITY


def test_unknown_kind_or_uses_byte_is_bad_format() -> None:
    _fields, body, signature = parse_visitor_pass(_text())
    from passes.base45 import b45encode

    for offset, value in ((27, 2), (28, 9)):
        changed = bytearray(body)
        changed[offset] = value
        with pytest.raises(PassError):
            parse_visitor_pass(VISITOR_PREFIX + b45encode(bytes(changed) + signature))


def test_single_use_pass_lets_in_once_then_is_refused_as_used() -> None:
    text = _text()
    first = _decide(text)
    assert first.allowed
    assert first.notes == (Code.VISITOR,)
    assert first.pass_id == PASS_ID
    check = verify_visitor_pass(text, default_keyset(), community_id=COMMUNITY)
    assert consumes(first, check)
    second = _decide(text, used_pass_ids={PASS_ID})
    assert not second.allowed
    assert second.code is Code.VISITOR_PASS_USED


def test_time_boxed_pass_is_not_consumed() -> None:
    text = _text(single_use=False)
    verdict = _decide(text, used_pass_ids={PASS_ID})
    check = verify_visitor_pass(text, default_keyset(), community_id=COMMUNITY)
    assert verdict.allowed
    assert not consumes(verdict, check)


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (NOW - timedelta(hours=1, seconds=1), Code.VISITOR_PASS_NOT_YET_VALID),
        (NOW + timedelta(hours=8, seconds=1), Code.VISITOR_PASS_EXPIRED),
    ],
)
def test_entry_outside_the_window_is_refused(now: datetime, code: Code) -> None:
    assert _decide(_text(), now=now).code is code


def test_window_bounds_are_inclusive() -> None:
    assert _decide(_text(), now=NOW - timedelta(hours=1)).allowed
    assert _decide(_text(), now=NOW + timedelta(hours=8)).allowed


def test_revoked_pass_is_refused_before_its_window_is_looked_at() -> None:
    verdict = _decide(_text(), revoked_pass_ids={PASS_ID}, now=NOW + timedelta(days=2))
    assert verdict.code is Code.VISITOR_PASS_REVOKED


def test_exit_is_allowed_after_the_window_and_once_used() -> None:
    verdict = _decide(
        _text(), direction=Direction.OUT, used_pass_ids={PASS_ID}, now=NOW + timedelta(days=3)
    )
    assert verdict.allowed
    assert verdict.notes == ()


@pytest.mark.parametrize(
    ("temperature", "code"),
    [(373, Code.FEVER), (None, Code.NO_TEMPERATURE), ("36.5", Code.SENSOR_ERROR)],
)
def test_temperature_rules_apply_to_visitors(temperature: object, code: Code) -> None:
    verdict = _decide(_text(), temperature=temperature)
    assert not verdict.allowed
    assert verdict.code is code
    check = verify_visitor_pass(_text(), default_keyset(), community_id=COMMUNITY)
    assert not consumes(verdict, check)


def test_walk_in_is_turned_back_and_a_delivery_handed_over() -> None:
    turned = decide_walk_in(
        handed_over=False, rules=RULES, direction=Direction.IN, temperature=None
    )
    assert not turned.allowed
    assert turned.codes == (Code.NO_PASS,)
    assert turned.reason() == "无证人员，劝返"
    handed = decide_walk_in(handed_over=True, rules=RULES, direction=Direction.IN, temperature=380)
    assert handed.codes == (Code.HANDED_OVER, Code.FEVER)
    assert handed.display == "refuse"


def _vector_keys() -> KeySet:
    key = VECTORS["key"]
    public = base64.b64decode(key["public_key"])
    private = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(key["private_seed_hex_for_reproduction"])
    )
    signing = SigningKey(KeyEntry(key_id=key["key_id"], public_key=public), private)
    assert signing.entry.public_key == public
    return KeySet((signing.entry,))


@pytest.mark.parametrize("vector", VECTORS["valid"])
def test_golden_visitor_pass_parses_to_its_fields_and_verifies(vector: dict) -> None:
    fields, _body, _signature = parse_visitor_pass(vector["text"])
    expected = vector["fields"]
    assert fields.pass_id.hex() == expected["pass_id"]
    assert fields.community_id == expected["community_id"]
    assert fields.kind.key == expected["kind"]
    assert fields.single_use is expected["single_use"]
    at = datetime.fromisoformat(expected["valid_from"].replace("Z", "+00:00"))
    assert fields.valid_from == at.astimezone(UTC)
    check = verify_visitor_pass(
        vector["text"], _vector_keys(), community_id=expected["community_id"]
    )
    assert isinstance(check, VerifiedVisitorPass)


@pytest.mark.parametrize("vector", VECTORS["invalid"])
def test_golden_invalid_visitor_pass_is_refused_with_its_detail(vector: dict) -> None:
    check = verify_visitor_pass(vector["text"], _vector_keys(), community_id=1)
    assert isinstance(check, VisitorPassRejected)
    assert (check.code.value, check.detail) == (vector["code"], vector["detail"])
