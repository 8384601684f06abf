"""``checkpoint db``: create or upgrade the database schema, and say where it stands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from gate.migrations import DatabaseUnavailable, reporting_unavailable, shown_url
from gate.settings import SettingsError, load_settings

_URL_HELP = "Database URL (default: CHECKPOINT_DATABASE_URL, else the instance SQLite file)."


@click.group(
    "db",
    help=(
        "Create or upgrade the database schema.\n\n"
        "Example: checkpoint db upgrade   (run after installing a new version)"
    ),
)
def db_group() -> None:
    """The ``db`` command group."""


def _database_url(option: str | None) -> str:
    if option:
        return option
    try:
        return load_settings().database_url
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _shown(url: str) -> str:
    return shown_url(url)


@contextmanager
def _reporting_connection_errors(url: str) -> Iterator[None]:
    try:
        with reporting_unavailable(url):
            yield
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None


def _describe(revision: str | None) -> str:
    from gate.migrations import script_directory

    if revision is None:
        return "empty (no schema)"
    script = script_directory().get_revision(revision)
    title = (script.doc or "").strip().splitlines()[0] if script is not None and script.doc else ""
    return f"{revision} {title}".strip()


@db_group.command(
    "upgrade",
    help=(
        "Apply all pending migrations (creating the schema on an empty database) and list "
        "what was applied.\n\nExample: checkpoint db upgrade"
    ),
)
@click.option("--database-url", help=_URL_HELP)
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(database_url: str | None, revision: str) -> None:
    from gate.migrations import current_revision, upgrade

    url = _database_url(database_url)
    click.echo(f"Database: {_shown(url)}")
    with _reporting_connection_errors(url):
        click.echo(f"Was at:   {_describe(current_revision(url))}")
        applied = upgrade(url, revision)
        if not applied:
            click.echo("Nothing to do: already up to date.")
        for step in applied:
            click.echo(f"Applied:  {_describe(step)}")
        click.echo(f"Now at:   {_describe(current_revision(url))}")
        _seal_id_numbers(url)
        _rehash_id_numbers(url)


def _seal_id_numbers(url: str) -> None:
    """Plaintext ID numbers (rows from before sealing) sealed under the ID-number key."""
    from gate.households.id_numbers import seal_database

    try:
        keys_dir = load_settings().keys_dir
    except SettingsError as exc:
        click.echo(f"ID numbers not sealed ({exc}): fix it and run `checkpoint db upgrade`")
        return
    sealed = seal_database(url, keys_dir)
    click.echo(f"身份证号加密：新加密 {sealed} 条（ID numbers sealed: {sealed}）")


def _rehash_id_numbers(url: str) -> None:
    """ID-number search hashes under the ID-hash key of the configured keys directory."""
    from gate.cli.households import rehash_id_numbers_of

    try:
        keys_dir = load_settings().keys_dir
    except SettingsError as exc:
        click.echo(f"ID-number hashes not updated ({exc}): run `checkpoint households rehash-ids`")
        return
    rehash_id_numbers_of(url, keys_dir)


@db_group.command(
    "current",
    help=(
        "Show the schema revision of the database and whether migrations are pending.\n\n"
        "Example: checkpoint db current --check   (exit status 1 if an upgrade is needed)"
    ),
)
@click.option("--database-url", help=_URL_HELP)
@click.option("--check", is_flag=True, help="Exit with status 1 unless at the newest revision.")
def current_command(database_url: str | None, check: bool) -> None:
    from gate.migrations import current_revision, head_revision

    url = _database_url(database_url)
    click.echo(f"Database: {_shown(url)}")
    with _reporting_connection_errors(url):
        current = current_revision(url)
    head = head_revision()
    click.echo(f"Current:  {_describe(current)}")
    if current == head:
        click.echo("Up to date.")
        return
    click.echo(f"Newest:   {_describe(head)}; run `checkpoint db upgrade`.")
    if check:
        raise SystemExit(1)


@db_group.command(
    "revision",
    help=(
        "For developers: write a new migration from the difference between the models and "
        "a database at the newest revision.\n\n"
        'Example: checkpoint db revision -m "add household notes"'
    ),
)
@click.option("--database-url", help=_URL_HELP)
@click.option("-m", "--message", required=True, help="What the migration does.")
def revision_command(database_url: str | None, message: str) -> None:
    from gate.migrations import current_revision, head_revision, write_revision

    url = _database_url(database_url)
    with _reporting_connection_errors(url):
        if current_revision(url) != head_revision():
            raise click.ClickException("the database is not at the newest revision: upgrade first")
        write_revision(url, message)
