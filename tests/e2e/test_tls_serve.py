"""``checkpoint serve --tls`` as an office runs it: a child process that makes its local
authority once, answers https requests verified with that authority only (TLS 1.2+), serves
the CA page over plain HTTP on the same port and sends every other plain request to https."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from tls_server import tls_server

from gate.migrations import upgrade
from gate.tls.certificates import grouped_fingerprint


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _plain(url: str) -> tuple[int, dict[str, str], str]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    upgrade(f"sqlite:///{tmp_path / 'checkpoint.sqlite3'}")
    return tmp_path


def test_serve_tls_answers_https_verified_with_its_own_authority(instance: Path) -> None:
    with tls_server(instance, host="127.0.0.1") as server:
        with urllib.request.urlopen(  # the CA is the only trust anchor of this context
            f"{server.url}/login", context=server.ssl_context(), timeout=10
        ) as response:
            assert response.status == 200
            assert "登录" in response.read().decode()
        # An unrelated trust store refuses it: the certificate is the local authority's.
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(
                f"{server.url}/login", context=ssl.create_default_context(), timeout=10
            )
        old = server.ssl_context()  # a TLS 1.1 client: refused
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with pytest.raises((urllib.error.URLError, ssl.SSLError, OSError)):
            urllib.request.urlopen(f"{server.url}/login", context=old, timeout=10)
        log = server.log.read_text()
    fingerprint = grouped_fingerprint(x509.load_pem_x509_certificate(server.ca_file.read_bytes()))
    assert f"证书指纹（SHA-256）：{fingerprint}" in log
    assert f"  {server.url}/gate" in log
    assert f"  {server.plain_url}/ca" in log
    assert "目前只有本机能连接" in log  # bound to loopback: phones cannot reach it


def test_plain_http_on_the_same_port_reaches_only_the_ca_page(instance: Path) -> None:
    with tls_server(instance, host="127.0.0.1") as server:
        status, _headers, html = _plain(f"{server.plain_url}/ca")
        assert status == 200
        assert "加密与凭据" in html
        status, headers, _body = _plain(f"{server.plain_url}/ca/checkpoint-ca.crt")
        assert status == 200
        assert headers["Content-Type"] == "application/x-x509-ca-cert"
        status, headers, _body = _plain(f"{server.plain_url}/")
        assert (status, headers["Location"]) == (302, "/ca")
        status, headers, _body = _plain(f"{server.plain_url}/gate?lane=2")
        assert (status, headers["Location"]) == (307, f"{server.url}/gate?lane=2")
        status, headers, _body = _plain(f"{server.plain_url}/cabinet")  # not the CA page
        assert (status, headers["Location"]) == (307, f"{server.url}/cabinet")


def test_a_second_start_reuses_the_authority(instance: Path) -> None:
    with tls_server(instance, host="127.0.0.1") as first:
        first_ca = first.ca_file.read_bytes()
        assert "已生成本地证书颁发机构" in first.log.read_text()
    with tls_server(instance, host="127.0.0.1") as second:
        assert second.ca_file.read_bytes() == first_ca
        log = second.log.read_text()
    assert "已生成本地证书颁发机构" not in log
    # Whether the server certificate is reused depends on the machine's addresses, which
    # other tests change (address aliases): tests/gate/tls checks that with fixed addresses.
