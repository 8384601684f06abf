"""``checkpoint demo`` and ``checkpoint serve``: run the gate server.

On a laptop the server runs under gunicorn (one worker process with threads: SQLite
has one writer anyway). A district runs the same app with ``deploy/gunicorn.conf.py``.
"""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from gate.api.fast_scan import install as install_fast_scans
from gate.app import create_app
from gate.errors import N_
from gate.settings import Settings, load_settings
from gate.tls.certificates import IpAddress, TlsPaths


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn embedded, so ``checkpoint serve`` is one command on every platform."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


SQLITE_SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval in a server on SQLite (Python's default: 5 ms)."""


def _short_switch_interval(server: object, worker: object) -> None:
    sys.setswitchinterval(SQLITE_SWITCH_INTERVAL_S)


def run_server(app: Flask, host: str, port: int, *, tls: TlsPaths | None = None) -> None:
    """Serve ``app`` until interrupted; with ``tls`` (the server certificate's files), HTTPS
    and plain HTTP on the one port (:mod:`gate.tls.sockets`: plain HTTP reaches only the CA
    page). Ordinary scans take the deployed app's fast path (:mod:`gate.api.fast_scan`)."""
    install_fast_scans(app)  # inside the plain-HTTP guard below, as gate.wsgi outside ProxyFix
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": 1,
        "threads": 8,
        "accesslog": None,
        "timeout": 30,
    }
    if app.extensions["checkpoint"].settings.database_url.startswith("sqlite"):
        # As deploy/gunicorn.conf.py's post_fork: the office's threads in this one worker
        # give the GIL back to a scan thread (holding SQLite's write turn) within 0.5 ms.
        options["post_fork"] = _short_switch_interval
    if tls is not None:
        from gate.tls.sockets import PlainHttpGuard, gunicorn_ssl_context, server_context

        # certfile/keyfile turn gunicorn's TLS on; the hook hands it our context (TLS 1.2+,
        # made once), which wraps only the connections that start a TLS handshake.
        options["certfile"], options["keyfile"] = str(tls.server_cert), str(tls.server_key)
        # The handshake inside wrap_socket: a plain connection has none to finish later.
        options["do_handshake_on_connect"] = True
        options["ssl_context"] = gunicorn_ssl_context(
            server_context(tls.server_cert, tls.server_key)
        )
        app.wsgi_app = PlainHttpGuard(app.wsgi_app)  # type: ignore[method-assign]
    _Gunicorn(app, options).run()


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.command(
    "serve",
    help=(
        "Serve an existing database (run `checkpoint db upgrade` first). While the database\n"
        "has no account, it prints a one-time setup link for the first run in the browser\n"
        "(administrator, community, gate, rules).\n\n"
        "Example: CHECKPOINT_DATABASE_URL=postgresql://... checkpoint serve --port 8000"
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--tls",
    is_flag=True,
    help=(
        "Serve HTTPS with a local certificate authority, made once in <instance dir>/tls "
        "(phones need HTTPS to open the camera). The same port answers plain HTTP with the "
        "page that shows how to trust it (/ca). Example: checkpoint serve --tls --host 0.0.0.0"
    ),
)
def serve_command(host: str, port: int, tls: bool) -> None:
    """Serve."""
    from gate.cli.firstrun import print_setup_link

    settings = _settings()
    if not tls:
        click.echo(f"Checkpoint serving {settings.database_url_masked} on http://{host}:{port}/")
        print_setup_link(browser_base_url("http", host, port))
        run_server(create_app(settings=settings), host, port)
        return
    paths = _prepare_tls(settings, host, port)
    print_setup_link(browser_base_url("https", host, port))
    app = create_app({"SESSION_COOKIE_SECURE": True}, settings=settings)
    run_server(app, host, port, tls=paths)


def browser_base_url(scheme: str, host: str, port: int) -> str:
    """Where a browser on this machine reaches a server bound to ``host``: loopback when it
    listens on every interface (the local certificate covers 127.0.0.1 and ::1)."""
    if host in ("0.0.0.0", ""):  # noqa: S104
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _prepare_tls(settings: Settings, host: str, port: int) -> TlsPaths:
    """Make or reuse the authority and server certificate; say in Chinese what to open."""
    from gate.cli.support import translate
    from gate.tls.addresses import local_names
    from gate.tls.certificates import prepare_tls, tls_paths

    local = local_names(None if host in ("0.0.0.0", "::") else host)  # noqa: S104
    setup = prepare_tls(
        tls_paths(settings.instance_dir).directory,
        ca_label=_ca_label(),
        names=local.names,
        addresses=local.addresses,
        now=datetime.now(UTC),
    )

    def say(message_id: str, **params: str) -> None:
        click.echo(translate(message_id, **params))

    server = setup.server
    if setup.authority.created:
        say(N_("Made a local certificate authority: %(path)s"), path=str(setup.paths.ca_cert))
    if server.reason is not None:
        covered = server.dns_names + [str(ip) for ip in server.ip_addresses]
        say(N_("Made the server certificate for: %(names)s"), names=", ".join(covered))
    left_out = [ip for ip in local.lan_addresses if ip not in server.ip_addresses]
    if left_out:
        say(
            N_("Not in the certificate (not a private address): %(addresses)s"),
            addresses=", ".join(str(ip) for ip in left_out),
        )
    say(N_("Checkpoint serving %(database)s over HTTPS"), database=settings.database_url_masked)
    say(N_("CA certificate fingerprint (SHA-256): %(fingerprint)s"), fingerprint=setup.fingerprint)
    reachable = _reachable(host, port, server.dns_names, server.ip_addresses)
    say(N_("Phones open the gate page at:"))
    for base in reachable:
        click.echo(f"  https://{base}/gate")
    say(N_("First, on each phone, install the certificate from (plain http is fine here):"))
    for base in reachable:
        click.echo(f"  http://{base}/ca")
    if host in ("127.0.0.1", "::1", "localhost"):
        say(N_("Only this computer can connect: to let phones in, add --host 0.0.0.0"))
    return setup.paths


def _ca_label() -> str:
    """What the authority is named after: the community, or the host for several."""
    from gate.cli.support import office_job
    from gate.community.queries import community_by_id, community_ids

    with office_job(writes=False) as job:
        ids = community_ids(job.session, limit=2)
        community = community_by_id(job.session, ids[0]) if len(ids) == 1 else None
        return community.name if community is not None else socket.gethostname()


def _reachable(host: str, port: int, names: list[str], addresses: list[IpAddress]) -> list[str]:
    """``host:port`` forms a phone can open: the bound address, or every LAN address (and
    host name) when bound to all interfaces; loopback only when nothing else is there."""
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104
        shown = f"[{host}]" if ":" in host else host
        return [f"{shown}:{port}"]
    lan = [ip for ip in addresses if not ip.is_loopback]
    hosts = [f"[{ip}]" if ip.version == 6 else str(ip) for ip in lan or addresses]
    hosts += [name for name in names if name != "localhost"]
    return [f"{shown}:{port}" for shown in hosts]


@click.command(
    "demo",
    help=(
        "Create a demo compound on SQLite (buildings, ~200 households, keys, passes, a gate,\n"
        "a scanner to enrol, a week of crossings), then serve it.\n\n"
        "Example: checkpoint demo --port 5000"
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reset", is_flag=True, help="Delete an existing demo database first.")
@click.option("--no-serve", is_flag=True, help="Only create the data.")
def demo_command(host: str, port: int, reset: bool, no_serve: bool) -> None:
    """Demo."""
    from gate.cli.support import office_job
    from gate.community.queries import has_community
    from gate.demo import build_demo
    from gate.migrations import upgrade

    settings = _settings()
    if not settings.database_url.startswith("sqlite"):
        raise click.ClickException("the demo only runs on SQLite; unset CHECKPOINT_DATABASE_URL")
    database = settings.sqlite_path
    if reset and database is not None:
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
    upgrade(settings.database_url)
    with office_job(writes=True) as job:
        exists = has_community(job.session)
        if not exists:
            click.echo(f"creating the demo compound in {database} ...")
            summary = build_demo(
                job.session,
                keys_dir=settings.keys_dir,
                now=datetime.now(UTC),
                on_progress=lambda message: click.echo(f"  {message}"),
                timezone=settings.timezone,
            )
    if exists:
        click.echo(f"demo database {database} exists: serving it (use --reset to start over)")
    else:
        click.echo(
            f"  {summary.households} households, {summary.crossings} crossings in the last week\n"
            f"  scanner enrolment code: {summary.enrolment_code}\n"
            f"  checkpoint-scanner enroll --server http://{host}:{port} "
            f"--code {summary.enrolment_code}"
        )
        click.echo("  web logins (passwords shown only now; change them with `checkpoint users`):")
        for login in summary.logins:
            click.echo(f"    {login.username:<11} {login.password}   ({login.role.value})")
    if not no_serve:
        click.echo(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
        run_server(create_app(settings=settings), host, port)
