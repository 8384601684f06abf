"""Vehicle passes (VH1): exact shape, domain separation, validity, and golden vectors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from strategies import COMMUNITY, NOW, default_key, default_keyset

from passes import Code, KeyEntry, KeySet, PassError, SigningKey, qr_version, verify_pass
from passes.plates import PlateError
from passes.vehicle_pass import (
    MAX_VEHICLE_VALIDITY,
    VEHICLE_PREFIX,
    VEHICLE_TEXT_LENGTH,
    VehiclePass,
    VehiclePassRejected,
    VerifiedVehiclePass,
    is_vehicle_pass,
    parse_vehicle_pass,
    sign_vehicle_pass,
    vehicle_pass_for,
    verify_vehicle_pass,
)
from passes.visitor_pass import verify_visitor_pass

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "vehicle_pass_v1.json").read_text("utf-8")
)
PASS_ID = bytes(range(12))


def vehicle_text(**changes: object) -> str:
    values: dict[str, object] = {
        "key_id": 1,
        "pass_id": PASS_ID,
        "community_id": COMMUNITY,
        "household_id": 77,
        "issued_at": NOW - timedelta(days=1),
        "valid_for": timedelta(days=90),
        "plate": "鲁E12345",
    }
    values.update(changes)
    return sign_vehicle_pass(default_key(), vehicle_pass_for(**values))  # type: ignore[arg-type]


def test_text_has_its_prefix_length_and_fits_a_version_9_qr() -> None:
    text = vehicle_text(plate="粤Z1234港")
    assert text.startswith(VEHICLE_PREFIX)
    assert len(text) == VEHICLE_TEXT_LENGTH == 171
    assert is_vehicle_pass(text)
    assert qr_version(text) <= 9


def test_round_trip_keeps_every_field_and_normalises_the_plate() -> None:
    text = vehicle_text(plate="鲁ed 12345", issued_at=NOW.replace(microsecond=5))
    fields, _body, _signature = parse_vehicle_pass(text)
    assert fields.plate == "鲁ED12345"
    assert fields.household_id == 77
    assert fields.issued_at == NOW
    assert fields.valid_until == NOW + timedelta(days=90)


def test_no_plate_no_pass() -> None:
    with pytest.raises(PlateError):
        vehicle_text(plate="鲁E1234")
    with pytest.raises(ValueError, match="valid"):
        VehiclePass(1, PASS_ID, 1, 1, NOW, NOW, "XX")


def test_validity_is_capped() -> None:
    with pytest.raises(ValueError, match="days"):
        vehicle_text(valid_for=MAX_VEHICLE_VALIDITY + timedelta(seconds=1))


def test_verified_within_its_period_and_refused_outside_it() -> None:
    text = vehicle_text()
    keys = default_keyset()
    assert isinstance(
        verify_vehicle_pass(text, keys, community_id=COMMUNITY, now=NOW), VerifiedVehiclePass
    )
    early = verify_vehicle_pass(text, keys, community_id=COMMUNITY, now=NOW - timedelta(days=2))
    late = verify_vehicle_pass(text, keys, community_id=COMMUNITY, now=NOW + timedelta(days=90))
    foreign = verify_vehicle_pass(text, keys, community_id=COMMUNITY + 1, now=NOW)
    assert isinstance(early, VehiclePassRejected)
    assert early.code is Code.NOT_YET_VALID
    assert isinstance(late, VehiclePassRejected)
    assert late.code is Code.EXPIRED
    assert isinstance(foreign, VehiclePassRejected)
    assert foreign.code is Code.WRONG_COMMUNITY


def test_a_vehicle_pass_is_no_household_or_visitor_pass_and_the_other_way_round() -> None:
    text = vehicle_text()
    keys = default_keyset()
    assert verify_pass(text, keys, community_id=COMMUNITY, now=NOW).code is Code.BAD_FORMAT  # type: ignore[union-attr]
    assert isinstance(verify_visitor_pass(text, keys, community_id=COMMUNITY), object)
    assert verify_visitor_pass(text, keys, community_id=COMMUNITY).code is Code.BAD_FORMAT  # type: ignore[union-attr]
    # Same body signed in another format's context never verifies as a vehicle pass.
    fields, body, _ = parse_vehicle_pass(text)
    forged = sign_vehicle_pass(default_key(), fields)
    assert forged == text  # deterministic signatures
    other = default_key().private_key.sign(b"checkpoint/pass/v1\x00" + body)
    from passes.base45 import b45encode

    swapped = VEHICLE_PREFIX + b45encode(body + other)
    check = verify_vehicle_pass(swapped, keys, community_id=COMMUNITY, now=NOW)
    assert isinstance(check, VehiclePassRejected)
    assert check.code is Code.BAD_SIGNATURE


@pytest.mark.parametrize("junk", [None, 5, "", "VH1:", "VH1:" + "A" * 167, "x" * 5000])
def test_junk_is_refused_never_raised(junk: object) -> None:
    check = verify_vehicle_pass(junk, default_keyset(), community_id=COMMUNITY, now=NOW)
    assert isinstance(check, VehiclePassRejected)
    assert check.code is Code.BAD_FORMAT
    with pytest.raises(PassError):
        parse_vehicle_pass(junk)


def _vector_keys() -> KeySet:
    key = VECTORS["key"]
    public = base64.b64decode(key["public_key"])
    private = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(key["private_seed_hex_for_reproduction"])
    )
    signing = SigningKey(KeyEntry(key_id=key["key_id"], public_key=public), private)
    assert signing.entry.public_key == public
    return KeySet((signing.entry,))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize("vector", VECTORS["valid"])
def test_golden_vehicle_pass_parses_to_its_fields_and_verifies(vector: dict) -> None:  # type: ignore[type-arg]
    fields, _body, _signature = parse_vehicle_pass(vector["text"])
    expected = vector["fields"]
    assert fields.pass_id.hex() == expected["pass_id"]
    assert fields.community_id == expected["community_id"]
    assert fields.household_id == expected["household_id"]
    assert fields.plate == expected["plate"]
    assert fields.issued_at == _moment(expected["issued_at"])
    assert fields.valid_until == _moment(expected["valid_until"])
    check = verify_vehicle_pass(
        vector["text"],
        _vector_keys(),
        community_id=expected["community_id"],
        now=fields.issued_at,
    )
    assert isinstance(check, VerifiedVehiclePass)


@pytest.mark.parametrize("vector", VECTORS["invalid"])
def test_golden_invalid_vehicle_pass_is_refused_with_its_detail(vector: dict) -> None:  # type: ignore[type-arg]
    check = verify_vehicle_pass(
        vector["text"], _vector_keys(), community_id=1, now=datetime(2026, 12, 6, tzinfo=UTC)
    )
    assert isinstance(check, VehiclePassRejected)
    assert (check.code.value, check.detail) == (vector["code"], vector["detail"])
