"""``checkpoint serve --tls`` in a child process on a non-loopback address, for browser tests.

- :func:`address_alias`: a ``10.x.y.z/32`` address added to ``lo`` for the test and removed
  after it (``ip addr add``: root only; the test is skipped with the reason otherwise, or
  fails when ``CHECKPOINT_REQUIRE_BROWSER=1``). A page served there is not on a loopback
  address, so it is a secure context only because of HTTPS, as on a phone.
- :func:`tls_server`: the server on that address, yielding its https URL, the SHA-256 SPKI
  hash of the local authority's key (for Chromium's
  ``--ignore-certificate-errors-spki-list``: the served chain carries the authority's
  certificate) and the CA file (for Python clients). The caller seeds the database first.

Tests that use them start processes: list them in ``SERIAL_GROUPS`` (tests/conftest.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from gate.tls.certificates import spki_hash, tls_paths

BIN = Path(sys.executable).parent
REQUIRE_ENV = "CHECKPOINT_REQUIRE_BROWSER"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason)


@contextmanager
def address_alias() -> Iterator[str]:
    """A fresh ``10.x.y.z`` on the loopback interface for the duration; removed afterwards."""
    ip_command = shutil.which("ip")
    if ip_command is None:
        _unavailable("no `ip` command (iproute2) to add an address alias")
    if os.geteuid() != 0:
        _unavailable("adding an address alias (ip addr add ... dev lo) needs root")
    assert ip_command is not None
    octets = secrets.token_bytes(3)
    address = f"10.{200 + octets[0] % 50}.{octets[1]}.{1 + octets[2] % 250}"
    added = subprocess.run(
        [ip_command, "addr", "add", f"{address}/32", "dev", "lo"],
        capture_output=True,
        text=True,
        check=False,
    )
    if added.returncode != 0:
        _unavailable(f"ip addr add {address}/32 dev lo failed: {added.stderr.strip()}")
    try:
        yield address
    finally:
        subprocess.run(
            [ip_command, "addr", "del", f"{address}/32", "dev", "lo"],
            capture_output=True,
            check=False,
        )


@dataclass(frozen=True)
class TlsServer:
    """A running ``checkpoint serve --tls``."""

    url: str
    """``https://<address>:<port>``."""
    spki_hash: str
    """Base64 SHA-256 of the local authority's public key."""
    ca_file: Path
    log: Path

    @property
    def plain_url(self) -> str:
        """The same port over plain HTTP (it serves the CA page)."""
        return "http://" + self.url.removeprefix("https://")

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the local authority."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def tls_server(
    instance_dir: Path,
    *,
    host: str,
    database_url: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Iterator[TlsServer]:
    """``checkpoint serve --tls --host HOST`` on ``instance_dir`` (its database: SQLite in it
    unless ``database_url``); waits until it answers over https, stops it afterwards."""
    port = free_port(host)
    env = {
        "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(instance_dir),
        "CHECKPOINT_ENV": "development",
        "CHECKPOINT_INSTANCE_DIR": str(instance_dir),
        **({"CHECKPOINT_DATABASE_URL": database_url} if database_url else {}),
        **(extra_env or {}),
    }
    log = instance_dir / f"serve-tls-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "checkpoint"), "serve", "--tls", "--host", host, "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    paths = tls_paths(instance_dir)
    url = f"https://{host}:{port}"
    try:
        _wait_ready(process, url, paths.ca_cert, log, timeout)
        ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        yield TlsServer(url, spki_hash(ca), paths.ca_cert, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(
    process: subprocess.Popen[bytes], url: str, ca_file: Path, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"checkpoint serve --tls exited:\n{log.read_text()}")
        if ca_file.exists():
            context = ssl.create_default_context(cafile=str(ca_file))
            try:
                with urllib.request.urlopen(f"{url}/login", context=context, timeout=2):
                    return
            except (urllib.error.URLError, OSError, ssl.SSLError):
                pass
        time.sleep(0.2)
    raise AssertionError(
        f"checkpoint serve --tls did not answer in {timeout} s:\n{log.read_text()}"
    )
