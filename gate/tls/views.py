"""The CA page: how a phone comes to trust this server (no login; plain HTTP allowed).

- ``/ca``: a QR of the certificate's download address, its SHA-256 fingerprint grouped for
  reading aloud, and the steps on Android and iOS, in the user's language (Chinese).
- ``/ca/checkpoint-ca.crt``: the authority's certificate, DER, ``application/x-x509-ca-cert``
  (what Android's 安装证书 -> CA 证书 takes).
- ``/ca/checkpoint-ca.mobileconfig``: the same certificate as an iOS configuration profile
  (Safari offers to install it under 设置 -> 已下载描述文件).

Served over plain HTTP on the ``--tls`` port too (:mod:`gate.tls.sockets`), so a phone that
does not trust the server yet can fetch it. Where no local authority exists (behind nginx
with a real certificate) the page says that nothing needs installing.
"""

from __future__ import annotations

import base64
import plistlib
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, render_template, request, url_for

from gate.services import services
from gate.tls.certificates import (
    common_name,
    grouped_fingerprint,
    load_authority_certificate,
    tls_paths,
)
from passes import render_png

trust = Blueprint("trust", __name__)

CERTIFICATE_FILE = "checkpoint-ca.crt"
PROFILE_FILE = "checkpoint-ca.mobileconfig"
QR_MODULE_PX = 8


def _authority() -> x509.Certificate | None:
    return load_authority_certificate(tls_paths(services().settings.instance_dir))


@trust.app_context_processor
def _local_ca() -> dict[str, object]:
    """``local_ca_ready()`` for any page: ``checkpoint serve --tls`` made a local authority that
    a phone can trust at /ca (the office's device page says so, or says what is missing)."""
    return {"local_ca_ready": lambda: _authority() is not None}


@trust.get("/ca")
def ca_page() -> Response:
    """The page a phone opens first: download, check, trust."""
    certificate = _authority()
    if certificate is None:
        return Response(render_template("trust/no_ca.html"), status=404, mimetype="text/html")
    # The QR and links point at plain http on the same host and port: they must open on a
    # phone that does not trust this server yet (the --tls port also speaks plain HTTP).
    base = f"http://{request.host}"
    download_url = base + url_for("trust.ca_certificate")
    body = render_template(
        "trust/ca.html",
        ca_name=common_name(certificate),
        fingerprint=grouped_fingerprint(certificate).split(" "),
        download_url=download_url,
        profile_url=base + url_for("trust.ca_profile"),
        qr=qr_data_uri(download_url),
        gate_url=f"https://{request.host}/gate",
    )
    return Response(body, mimetype="text/html")


@trust.get(f"/ca/{CERTIFICATE_FILE}")
def ca_certificate() -> Response:
    """The authority's certificate (DER) for Android and desktop browsers."""
    certificate = _authority()
    if certificate is None:
        return Response("no local certificate authority\n", status=404, mimetype="text/plain")
    response = Response(
        certificate.public_bytes(serialization.Encoding.DER),
        mimetype="application/x-x509-ca-cert",
    )
    response.headers["Content-Disposition"] = f"attachment; filename={CERTIFICATE_FILE}"
    response.headers["Cache-Control"] = "no-cache"
    return response


@trust.get(f"/ca/{PROFILE_FILE}")
def ca_profile() -> Response:
    """The certificate as an iOS configuration profile (one root-certificate payload)."""
    certificate = _authority()
    if certificate is None:
        return Response("no local certificate authority\n", status=404, mimetype="text/plain")
    response = Response(mobileconfig(certificate), mimetype="application/x-apple-aspen-config")
    response.headers["Content-Disposition"] = f"attachment; filename={PROFILE_FILE}"
    response.headers["Cache-Control"] = "no-cache"
    return response


def mobileconfig(certificate: x509.Certificate) -> bytes:
    """An unsigned iOS profile installing ``certificate`` as a root (stable UUIDs: the same
    certificate always gives the same profile)."""
    name = common_name(certificate)
    digest = grouped_fingerprint(certificate).replace(" ", "").lower()
    payload_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"checkpoint-ca-payload:{digest}")).upper()
    profile_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"checkpoint-ca-profile:{digest}")).upper()
    profile = {
        "PayloadContent": [
            {
                "PayloadCertificateFileName": CERTIFICATE_FILE,
                "PayloadContent": certificate.public_bytes(serialization.Encoding.DER),
                "PayloadDescription": name,
                "PayloadDisplayName": name,
                "PayloadIdentifier": f"checkpoint.ca.{digest[:16]}.certificate",
                "PayloadType": "com.apple.security.root",
                "PayloadUUID": payload_uuid,
                "PayloadVersion": 1,
            }
        ],
        "PayloadDescription": name,
        "PayloadDisplayName": name,
        "PayloadIdentifier": f"checkpoint.ca.{digest[:16]}",
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": profile_uuid,
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile)


def qr_data_uri(text: str) -> str:
    """A ``data:`` PNG of ``text``'s QR (the CSP allows ``img-src data:``)."""
    png = render_png(text, module_px=QR_MODULE_PX)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
