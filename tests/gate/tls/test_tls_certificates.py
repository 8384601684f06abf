"""The local certificate authority and the server certificate of ``checkpoint serve --tls``:
made once, covering the machine's names and LAN addresses, constrained to the compound's
network, private keys 0600, renewed when an address changes or the end nears."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from gate.tls.certificates import TlsSetup, prepare_tls

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NAMES = ("localhost", "office-laptop", "office-laptop.lan", "www.example.com")
LAN = ipaddress.ip_address("192.168.31.20")
ADDRESSES = (
    ipaddress.ip_address("127.0.0.1"),
    LAN,
    ipaddress.ip_address("10.8.0.5"),
    ipaddress.ip_address("8.8.8.8"),  # public: the authority may not vouch for it
)


def _prepare(directory: Path, *, addresses=ADDRESSES, now: datetime = NOW) -> TlsSetup:  # type: ignore[no-untyped-def]
    return prepare_tls(directory, ca_label="幸福里小区", names=NAMES, addresses=addresses, now=now)


def _verify(setup: TlsSetup, subject: x509.DNSName | x509.IPAddress, at: datetime) -> None:
    store = Store([setup.authority.certificate])
    verifier = PolicyBuilder().store(store).time(at).build_server_verifier(subject)
    verifier.verify(setup.server.certificate, [])


def test_the_authority_is_a_name_constrained_ca_named_for_the_community(tmp_path: Path) -> None:
    setup = _prepare(tmp_path / "tls")
    ca = setup.authority.certificate
    assert setup.authority.created
    name = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert name == "Checkpoint 本地证书 幸福里小区"
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert not usage.digital_signature
    names = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert names.critical
    permitted = names.value.permitted_subtrees or []
    assert x509.IPAddress(ipaddress.ip_network("192.168.0.0/16")) in permitted
    assert x509.DNSName("office-laptop") in permitted
    assert x509.DNSName("example.com") not in permitted


def test_the_server_certificate_covers_names_and_lan_addresses_and_nothing_public(
    tmp_path: Path,
) -> None:
    setup = _prepare(tmp_path / "tls")
    server = setup.server
    assert server.reason == "new"
    assert sorted(server.dns_names) == ["localhost", "office-laptop", "office-laptop.lan"]
    assert set(server.ip_addresses) == {
        ipaddress.ip_address("127.0.0.1"),
        LAN,
        ipaddress.ip_address("10.8.0.5"),
    }
    usage = server.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert not server.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert server.certificate.not_valid_after_utc - NOW <= timedelta(days=398)
    at = NOW + timedelta(days=1)
    _verify(setup, x509.IPAddress(LAN), at)
    _verify(setup, x509.DNSName("office-laptop"), at)
    with pytest.raises(VerificationError):
        _verify(setup, x509.IPAddress(ipaddress.ip_address("8.8.8.8")), at)


def test_private_keys_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    setup = _prepare(tmp_path / "tls")
    paths = setup.paths
    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.server_key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in paths.ca_cert.read_bytes()


def test_a_second_start_reuses_the_authority_and_the_certificate(tmp_path: Path) -> None:
    first = _prepare(tmp_path / "tls")
    ca_key = first.paths.ca_key.read_bytes()
    second = prepare_tls(
        tmp_path / "tls",
        ca_label="another name",
        names=NAMES,
        addresses=ADDRESSES,
        now=NOW + timedelta(days=3),
    )
    assert not second.authority.created
    assert second.fingerprint == first.fingerprint
    assert second.paths.ca_key.read_bytes() == ca_key
    assert second.server.reason is None
    assert second.server.certificate == first.server.certificate


def test_a_changed_address_renews_the_server_certificate_under_the_same_authority(
    tmp_path: Path,
) -> None:
    first = _prepare(tmp_path / "tls")
    moved = ipaddress.ip_address("192.168.1.77")
    second = _prepare(tmp_path / "tls", addresses=(ipaddress.ip_address("127.0.0.1"), moved))
    assert second.server.reason == "names_changed"
    assert second.fingerprint == first.fingerprint
    assert moved in second.server.ip_addresses
    assert LAN not in second.server.ip_addresses
    _verify(second, x509.IPAddress(moved), NOW + timedelta(days=1))


def test_a_certificate_near_its_end_is_renewed(tmp_path: Path) -> None:
    first = _prepare(tmp_path / "tls")
    later = first.server.certificate.not_valid_after_utc - timedelta(days=10)
    renewed = _prepare(tmp_path / "tls", now=later)
    assert renewed.server.reason == "expiring"
    assert renewed.server.certificate.not_valid_after_utc > later + timedelta(days=300)
    assert not renewed.authority.created


def test_a_certificate_from_another_authority_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    _prepare(directory)
    stranger = _prepare(tmp_path / "other")
    (directory / "server.crt").write_bytes((tmp_path / "other" / "server.crt").read_bytes())
    (directory / "server.key").write_bytes((tmp_path / "other" / "server.key").read_bytes())
    again = _prepare(directory)
    assert again.server.reason == "other_authority"
    assert again.fingerprint != stranger.fingerprint
