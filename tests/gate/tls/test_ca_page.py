"""The CA page (/ca) a phone opens to trust ``checkpoint serve --tls``: no login, in Chinese,
a QR of the download address, the grouped SHA-256 fingerprint, the Android and iOS steps;
the certificate as DER and as an iOS profile; a plain 404 page where no local CA exists."""

from __future__ import annotations

import base64
import io
import ipaddress
import plistlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zxingcpp
from api_helpers import build_compound
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from flask import Flask
from PIL import Image
from sqlalchemy import Engine
from web_helpers import log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.app import create_app
from gate.db import transaction
from gate.settings import Settings
from gate.tls.certificates import TlsSetup, prepare_tls, tls_paths


def _app(instance: Path) -> Flask:
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(instance),
            "CHECKPOINT_DATABASE_URL": f"sqlite:///{instance / 'unused.sqlite3'}",
        }
    )
    return create_app({"TESTING": True}, settings=settings)


@pytest.fixture
def trusted(tmp_path: Path) -> tuple[Flask, TlsSetup]:
    setup = prepare_tls(
        tls_paths(tmp_path).directory,
        ca_label="幸福里小区",
        names=("localhost",),
        addresses=(ipaddress.ip_address("192.168.31.20"),),
        now=datetime.now(UTC),
    )
    return _app(tmp_path), setup


def test_the_ca_page_is_in_chinese_with_qr_fingerprint_and_both_phones_steps(
    trusted: tuple[Flask, TlsSetup],
) -> None:
    app, setup = trusted
    response = app.test_client().get("/ca", base_url="http://192.168.31.20:5000")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "在手机上信任本服务器" in html
    assert "设置 → 安全 → 加密与凭据 → 安装证书 → CA 证书" in html
    assert "设置 → 已下载描述文件 → 安装" in html
    assert "证书信任设置" in html
    assert "Checkpoint 本地证书 幸福里小区" in html
    groups = re.findall(r"<span>([0-9A-F]{4})</span>", html)
    digest = setup.authority.certificate.fingerprint(hashes.SHA256()).hex().upper()
    assert "".join(groups) == digest
    assert len(groups) == 16
    data = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert data is not None
    image = Image.open(io.BytesIO(base64.b64decode(data.group(1)))).convert("L")
    texts = [found.text for found in zxingcpp.read_barcodes(image)]
    assert texts == ["http://192.168.31.20:5000/ca/checkpoint-ca.crt"]
    assert 'href="https://192.168.31.20:5000/gate"' in html


def test_the_certificate_downloads_as_der_and_as_an_ios_profile(
    trusted: tuple[Flask, TlsSetup],
) -> None:
    app, setup = trusted
    client = app.test_client()
    crt = client.get("/ca/checkpoint-ca.crt")
    assert crt.status_code == 200
    assert crt.mimetype == "application/x-x509-ca-cert"
    assert "checkpoint-ca.crt" in crt.headers["Content-Disposition"]
    assert x509.load_der_x509_certificate(crt.data) == setup.authority.certificate
    profile = client.get("/ca/checkpoint-ca.mobileconfig")
    assert profile.mimetype == "application/x-apple-aspen-config"
    parsed = plistlib.loads(profile.data)
    (payload,) = parsed["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert x509.load_der_x509_certificate(payload["PayloadContent"]) == (
        setup.authority.certificate
    )
    assert client.get("/ca/checkpoint-ca.mobileconfig").data == profile.data  # stable UUIDs


def test_without_a_local_ca_the_page_says_nothing_needs_installing(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    response = client.get("/ca")
    assert response.status_code == 404
    assert "不需要安装" in response.get_data(as_text=True)
    assert client.get("/ca/checkpoint-ca.crt").status_code == 404


def test_office_staff_find_the_ca_page_from_the_devices_page(
    committed_engine: Engine, db_url: str, tmp_path: Path
) -> None:
    compound = build_compound(db_url, tmp_path, households=1)
    try:
        with transaction(compound.sessions) as session:
            create_user(
                session,
                community_id=compound.community_id,
                username="office-clerk",
                password="correct horse battery",
                role=Role.OFFICE,
                actor="test",
            )
        client = compound.app.test_client()
        assert log_in(client, "office-clerk", "correct horse battery").status_code == 302
        # No local authority yet (not served with --tls): no link to /ca's 404, but what to do.
        html = client.get("/devices").get_data(as_text=True)
        assert 'href="/ca"' not in html
        assert "请负责本服务器的人员开启 HTTPS" in html
        prepare_tls(
            tls_paths(compound.settings.instance_dir).directory,
            ca_label="幸福里小区",
            names=("localhost",),
            addresses=(ipaddress.ip_address("192.168.31.20"),),
            now=datetime.now(UTC),
        )
        html = client.get("/devices").get_data(as_text=True)
        assert 'href="/ca"' in html
        assert "在手机上信任本服务器" in html
    finally:
        compound.dispose()
