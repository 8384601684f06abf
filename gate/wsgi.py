"""WSGI entry point for gunicorn behind one reverse proxy: ``gunicorn gate.wsgi:app``.

With ``CHECKPOINT_PROXY_COUNT=1`` (deploy/checkpoint.env.example) ProxyFix trusts exactly one
hop (nginx) for the client address, scheme and host, so login throttling sees the real client
and ``url_for`` builds https links. Bind gunicorn to loopback
(or a private network) so only that proxy can set these headers.

An ordinary scan (``POST /api/v1/scans``) is answered before Flask by :mod:`gate.api.fast_scan`,
with the same bytes; everything else is Flask's.
"""

from gate.api.fast_scan import install
from gate.app import create_app

app = install(create_app())  # ProxyFix: CHECKPOINT_PROXY_COUNT (gate.app.configure_proxy)
