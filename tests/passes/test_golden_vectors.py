"""Golden vectors for pass format v1: committed once, never edited.

If one of these fails, the change broke every card already printed.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passes import (
    Code,
    KeyEntry,
    KeySet,
    PassError,
    PassRejected,
    SigningKey,
    VerifiedPass,
    parse_pass,
    parse_utc,
    qr_version,
    verify_pass,
)
from passes.pass_format import signed_message
from passes.verification import MAX_PASS_VALIDITY

VECTORS = json.loads((Path(__file__).parent / "vectors" / "pass_v1.json").read_text("utf-8"))
KEY = KeyEntry(
    key_id=VECTORS["key"]["key_id"], public_key=base64.b64decode(VECTORS["key"]["public_key"])
)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["fields"]["pass_id"])
def test_golden_pass_parses_to_its_recorded_fields(vector: dict) -> None:
    fields = parse_pass(vector["text"]).fields
    expected = vector["fields"]
    assert fields.version == expected["version"]
    assert fields.key_id == expected["key_id"]
    assert fields.pass_id.hex() == expected["pass_id"]
    assert fields.household_id == expected["household_id"]
    assert fields.community_id == expected["community_id"]
    assert fields.generation == expected["generation"]
    assert fields.issued_at == parse_utc(expected["issued_at"])
    assert fields.valid_until == parse_utc(expected["valid_until"])


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["fields"]["pass_id"])
def test_golden_pass_verifies_under_the_recorded_public_key(vector: dict) -> None:
    signed = parse_pass(vector["text"])
    fields = signed.fields
    assert KEY.verifies(signed_message(signed.body), signed.signature)
    now = min(fields.valid_until, fields.issued_at + timedelta(seconds=1))
    check = verify_pass(vector["text"], KeySet((KEY,)), community_id=fields.community_id, now=now)
    if fields.valid_until - fields.issued_at > MAX_PASS_VALIDITY:
        # The format's extreme values (a pass valid until 2106) decode and their signature
        # holds, but no gate accepts a pass valid for longer than any pass is issued.
        assert isinstance(check, PassRejected)
        assert check.code is Code.VALIDITY_TOO_LONG
    else:
        assert isinstance(check, VerifiedPass)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["fields"]["pass_id"])
def test_signing_the_recorded_fields_reproduces_the_golden_text(vector: dict) -> None:
    # Ed25519 signatures are deterministic, so the encoder must give the same text.
    seed = bytes.fromhex(VECTORS["key"]["private_seed_hex_for_reproduction"])
    key = SigningKey(KEY, Ed25519PrivateKey.from_private_bytes(seed))
    assert key.sign(parse_pass(vector["text"]).fields) == vector["text"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v.get("detail", v["code"]))
def test_golden_invalid_text_is_refused_with_its_code(vector: dict) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    check = verify_pass(vector["text"], KeySet((KEY,)), community_id=1, now=now)
    assert not isinstance(check, VerifiedPass)
    assert check.code == vector["code"]
    if "detail" in vector:
        with pytest.raises(PassError) as info:
            parse_pass(vector["text"])
        assert info.value.detail == vector["detail"]


def test_v1_pass_fits_qr_version_8_at_error_correction_q() -> None:
    versions = [qr_version(vector["text"]) for vector in VECTORS["valid"]]
    print(f"pass length {len(VECTORS['valid'][0]['text'])} chars, QR versions at Q: {versions}")
    assert max(versions) <= 8
