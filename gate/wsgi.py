"""WSGI entry point for gunicorn behind one reverse proxy: ``gunicorn gate.wsgi:app``.

ProxyFix trusts exactly one hop (nginx) for the client address, scheme and host, so login
throttling sees the real client and ``url_for`` builds https links. Bind gunicorn to loopback
(or a private network) so only that proxy can set these headers.
"""

from werkzeug.middleware.proxy_fix import ProxyFix

from gate.app import create_app

app = create_app()
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
