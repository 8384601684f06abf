"""The local certificate authority and the server certificate it signs.

Files in the TLS directory (``<instance dir>/tls``, 0700):

- ``ca.key`` (0600) and ``ca.crt``: the authority, made once and then reused; its name says
  what it is to the person asked to trust it ("Checkpoint 本地证书 <community or host>").
- ``server.key`` (0600) and ``server.crt`` (followed by ``ca.crt``: the chain a client is
  sent): the server's certificate for the machine's names and addresses, made again when
  they change, when it has less than :data:`RENEW_BEFORE` left, or when it was not signed
  by the current authority.

The authority is name-constrained (RFC 5280 section 4.2.1.10) to private and loopback
addresses, to the machine's single-label host names and to local suffixes (``.lan``,
``.local``, ...): a phone that trusts it trusts it for the compound's server only, never for
a site on the internet, even if the key leaked. Names and addresses outside those
constraints are left out of the server certificate (a client would refuse the whole
certificate for them).

ECDSA P-256 keys: every phone browser accepts them, and they are quick to make.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import ipaddress
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=397)
"""Under the 398 days browsers allow a server certificate (and iOS's 825 for local CAs)."""
RENEW_BEFORE = timedelta(days=30)
BACKDATE = timedelta(hours=1)
"""Certificates start an hour in the past: a phone whose clock is a little behind accepts them."""
CA_NAME_PREFIX = "Checkpoint 本地证书"
DIR_MODE = 0o700
KEY_MODE = 0o600

PERMITTED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, used by some compound networks
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("fc00::/7"),
)
"""The addresses the authority may vouch for: private, shared, link-local and loopback."""
LOCAL_SUFFIXES = ("localhost", "local", "lan", "home.arpa", "internal")
"""DNS names the authority may vouch for besides the host names it was made for."""


@dataclass(frozen=True)
class TlsPaths:
    """Where the authority and the server certificate live."""

    directory: Path

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"


@dataclass(frozen=True)
class Authority:
    """The local certificate authority (certificate and private key)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    created: bool


@dataclass(frozen=True)
class ServerCertificate:
    """The server's certificate; ``reason`` says why it was (re)made, None if reused."""

    certificate: x509.Certificate
    reason: str | None

    @property
    def dns_names(self) -> list[str]:
        return _san(self.certificate).get_values_for_type(x509.DNSName)

    @property
    def ip_addresses(self) -> list[IpAddress]:
        values = _san(self.certificate).get_values_for_type(x509.IPAddress)
        return [value for value in values if isinstance(value, IpAddress)]


@dataclass(frozen=True)
class TlsSetup:
    """What ``checkpoint serve --tls`` needs: the files, and what was done to them."""

    paths: TlsPaths
    authority: Authority
    server: ServerCertificate

    @property
    def fingerprint(self) -> str:
        return grouped_fingerprint(self.authority.certificate)


def prepare_tls(
    directory: Path,
    *,
    ca_label: str,
    names: Iterable[str],
    addresses: Iterable[IpAddress],
    now: datetime,
) -> TlsSetup:
    """Make (once) the authority and (when needed) the server certificate in ``directory``.

    ``ca_label`` names the authority ("Checkpoint 本地证书 <ca_label>") when it is made; an
    existing authority is reused as it is. ``names`` and ``addresses`` are what the server
    certificate MUST cover (those outside the authority's constraints are dropped).
    Safe against a second process doing the same at the same time (a lock file).
    """
    paths = TlsPaths(directory)
    _private_directory(directory)
    with _locked(directory / ".lock"):
        authority = ensure_authority(paths, ca_label=ca_label, names=names, now=now)
        server = ensure_server_certificate(
            paths, authority, names=names, addresses=addresses, now=now
        )
    return TlsSetup(paths, authority, server)


def ensure_authority(
    paths: TlsPaths, *, ca_label: str, names: Iterable[str], now: datetime
) -> Authority:
    """The authority in ``paths``, made now if there is none (never replaced once made)."""
    if paths.ca_key.exists() and paths.ca_cert.exists():
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{paths.ca_key} is not an EC private key")
        certificate = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        return Authority(certificate, key, created=False)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_NAME_PREFIX} {ca_label}".strip()),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Checkpoint"),
        ]
    )
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_name_constraints(names), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(paths.ca_key, _key_pem(key))
    _write_public(paths.ca_cert, certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(certificate, key, created=True)


def ensure_server_certificate(
    paths: TlsPaths,
    authority: Authority,
    *,
    names: Iterable[str],
    addresses: Iterable[IpAddress],
    now: datetime,
) -> ServerCertificate:
    """The server certificate in ``paths``, (re)made when it does not fit any more."""
    dns, ips = covered_names(authority.certificate, names, addresses)
    if not dns and not ips:
        raise ValueError("no name or address of this machine can be covered")
    reason = _why_renew(paths, authority, dns, ips, now)
    if reason is None:
        certificate = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
        return ServerCertificate(certificate, None)
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    ca_public = authority.certificate.public_key()
    if not isinstance(ca_public, ec.EllipticCurvePublicKey):
        raise ValueError("the authority's key is not an EC key")
    certificate = (
        x509.CertificateBuilder()
        # Not a host name (it has a space), so no client reads it as one.
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Checkpoint server")]))
        .issuer_name(authority.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_VALIDITY, authority.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name) for name in dns] + [x509.IPAddress(ip) for ip in ips]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
        )
        .sign(authority.key, hashes.SHA256())
    )
    _write_private(paths.server_key, _key_pem(key))
    # The chain a client is sent: the server's certificate, then the authority's (harmless to
    # a client that has it, and a test browser can then trust the authority's key).
    chain = certificate.public_bytes(
        serialization.Encoding.PEM
    ) + authority.certificate.public_bytes(serialization.Encoding.PEM)
    _write_public(paths.server_cert, chain)
    return ServerCertificate(certificate, reason)


def covered_names(
    ca: x509.Certificate, names: Iterable[str], addresses: Iterable[IpAddress]
) -> tuple[list[str], list[IpAddress]]:
    """The DNS names and addresses (sorted, unique) that ``ca`` may vouch for."""
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    dns_allowed = [
        tree.value
        for tree in constraints.permitted_subtrees or ()
        if isinstance(tree, x509.DNSName)
    ]
    ip_allowed = [
        tree.value
        for tree in constraints.permitted_subtrees or ()
        if isinstance(tree, x509.IPAddress)
        and isinstance(tree.value, ipaddress.IPv4Network | ipaddress.IPv6Network)
    ]
    dns = sorted(
        {
            name.lower().rstrip(".")
            for name in names
            if _is_dns_name(name) and _dns_within(name.lower().rstrip("."), dns_allowed)
        }
    )
    ips = sorted(
        {ip for ip in addresses if any(ip in network for network in ip_allowed)},
        key=lambda ip: (ip.version, int(ip)),
    )
    return dns, ips


def grouped_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate, upper-case hex in 16 groups of 4, for reading aloud."""
    digest = certificate.fingerprint(hashes.SHA256()).hex().upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def spki_hash(certificate: x509.Certificate) -> str:
    """Base64 SHA-256 of the public key (SPKI), as Chromium's
    ``--ignore-certificate-errors-spki-list`` and HPKP take it."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _name_constraints(names: Iterable[str]) -> x509.NameConstraints:
    # A single-label host name ("office-pc") names this machine only; a dotted one may be a
    # public domain, which the authority must never vouch for (local suffixes cover the rest).
    hosts = sorted(
        {
            name.lower().rstrip(".")
            for name in names
            if _is_dns_name(name) and "." not in name.rstrip(".")
        }
    )
    suffixes = sorted(set(hosts) | set(LOCAL_SUFFIXES))
    permitted: list[x509.GeneralName] = [x509.DNSName(name) for name in suffixes]
    permitted += [x509.IPAddress(network) for network in PERMITTED_NETWORKS]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


def _dns_within(name: str, allowed: Sequence[str]) -> bool:
    return any(name == base or name.endswith("." + base) for base in allowed)


def _is_dns_name(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return bool(name) and all(
        0 < len(label) <= 63
        and label.isascii()
        and label.replace("-", "").isalnum()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


def _why_renew(
    paths: TlsPaths,
    authority: Authority,
    dns: list[str],
    ips: list[IpAddress],
    now: datetime,
) -> str | None:
    if not (paths.server_cert.exists() and paths.server_key.exists()):
        return "new"
    current = ServerCertificate(
        x509.load_pem_x509_certificate(paths.server_cert.read_bytes()), None
    )
    try:
        current.certificate.verify_directly_issued_by(authority.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return "other_authority"
    if current.certificate.not_valid_after_utc - now < RENEW_BEFORE:
        return "expiring"
    if (
        sorted(current.dns_names) != dns
        or sorted(current.ip_addresses, key=lambda ip: (ip.version, int(ip))) != ips
    ):
        return "names_changed"
    return None


def _san(certificate: x509.Certificate) -> x509.SubjectAlternativeName:
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)


def _write_private(path: Path, data: bytes) -> None:
    _write(path, data, KEY_MODE)


def _write_public(path: Path, data: bytes) -> None:
    _write(path, data, 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written whole to a temporary file of the final mode, then renamed over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)  # the umask may have narrowed the public file
    os.replace(temporary, path)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    descriptor = os.open(lock_path, os.O_WRONLY | os.O_CREAT, KEY_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


TLS_DIRECTORY = "tls"
"""The TLS directory's name inside the instance directory."""


def tls_paths(instance_dir: Path) -> TlsPaths:
    """Where ``checkpoint serve --tls`` keeps its authority and certificate."""
    return TlsPaths(instance_dir / TLS_DIRECTORY)


def load_authority_certificate(paths: TlsPaths) -> x509.Certificate | None:
    """The authority's certificate (no key), or None if this server never made one."""
    try:
        return x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def common_name(certificate: x509.Certificate) -> str:
    """The certificate's common name (what a phone lists it as)."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
