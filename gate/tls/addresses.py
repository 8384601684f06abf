"""The machine's host names and LAN addresses: what the server certificate must cover.

Gathered without extra packages: the host name and its fully qualified form,
``socket.getaddrinfo`` of both, and ``ip -j addr`` (iproute2's JSON) where it exists.
Loopback (``localhost``, 127.0.0.1, ::1) is always included; IPv6 link-local addresses are
left out (a browser cannot open them without a zone id).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass

from gate.tls.certificates import IpAddress

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES: tuple[IpAddress, ...] = (
    ipaddress.ip_address("127.0.0.1"),
    ipaddress.ip_address("::1"),
)


@dataclass(frozen=True)
class LocalNames:
    """Host names and addresses of this machine."""

    names: tuple[str, ...]
    addresses: tuple[IpAddress, ...]

    @property
    def lan_addresses(self) -> tuple[IpAddress, ...]:
        """The addresses another device on the network may reach (not loopback)."""
        return tuple(ip for ip in self.addresses if not ip.is_loopback)


def local_names(bind_host: str | None = None) -> LocalNames:
    """This machine's names and addresses (plus ``bind_host`` when it names one)."""
    names: list[str] = list(LOOPBACK_NAMES)
    for name in (socket.gethostname(), socket.getfqdn()):
        if name and name not in names and not name.startswith("localhost"):
            names.append(name)
    found: list[IpAddress] = list(LOOPBACK_ADDRESSES)
    for name in names[1:]:
        found += _resolved(name)
    found += interface_addresses()
    if bind_host:
        try:
            found.append(ipaddress.ip_address(bind_host))
        except ValueError:
            if bind_host not in names:
                names.append(bind_host)
    unique: list[IpAddress] = []
    for ip in found:
        if _usable(ip) and ip not in unique:
            unique.append(ip)
    return LocalNames(tuple(names), tuple(unique))


def interface_addresses() -> list[IpAddress]:
    """The addresses of the network interfaces, from ``ip -j addr`` (empty without it)."""
    ip_command = shutil.which("ip")
    if ip_command is None:
        return []
    try:
        done = subprocess.run(  # noqa: S603 (a fixed command, found on PATH)
            [ip_command, "-j", "addr"], capture_output=True, text=True, timeout=5, check=True
        )
        interfaces = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    addresses: list[IpAddress] = []
    for interface in interfaces if isinstance(interfaces, list) else ():
        for info in interface.get("addr_info", ()) if isinstance(interface, dict) else ():
            try:
                addresses.append(ipaddress.ip_address(str(info.get("local", ""))))
            except ValueError:
                continue
    return addresses


def _resolved(name: str) -> list[IpAddress]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    addresses: list[IpAddress] = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        except ValueError:
            continue
    return addresses


def _usable(ip: IpAddress) -> bool:
    if ip.is_unspecified or ip.is_multicast:
        return False
    return not (ip.version == 6 and ip.is_link_local)
