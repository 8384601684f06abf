"""``checkpoint demo`` and ``checkpoint serve``: run the gate server.

On a laptop the server runs under gunicorn (one worker process with threads: SQLite
has one writer anyway). A district runs the same app with ``deploy/gunicorn.conf.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from gate.app import create_app
from gate.settings import Settings, load_settings


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


def run_server(app: Flask, host: str, port: int) -> None:
    """Serve ``app`` until interrupted."""
    _Gunicorn(
        app,
        {"bind": f"{host}:{port}", "workers": 1, "threads": 8, "accesslog": None, "timeout": 30},
    ).run()


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.command(
    "serve",
    help=(
        "Serve an existing database (run `checkpoint db upgrade` first).\n\n"
        "Example: CHECKPOINT_DATABASE_URL=postgresql://... checkpoint serve --port 8000"
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve_command(host: str, port: int) -> None:
    """Serve."""
    settings = _settings()
    click.echo(f"Checkpoint serving {settings.database_url_masked} on http://{host}:{port}/")
    run_server(create_app(settings=settings), host, port)


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
