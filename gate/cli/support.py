"""Plumbing shared by the database-backed ``checkpoint`` commands: opening the configured
database for one job, the ``--community`` and ``--actor`` options, and progress bars.
"""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from gate.community.models import Community
    from gate.settings import Settings
    from gate.unit_of_work import DbSession, UnitOfWork


@dataclass(frozen=True)
class OfficeJob:
    """One CLI job: the settings and the job's one unit of work (see ``gate.unit_of_work``).

    ``job.session`` begins the job's transaction on first use; parse input files before
    touching it. The job commits once when the ``with`` block succeeds.
    """

    settings: Settings
    unit: UnitOfWork

    @property
    def session(self) -> DbSession:
        """The job's session (operations flush; the job commits)."""
        return self.unit.session


def default_actor() -> str:
    """``cli:<OS user>``: who did it, when no ``--actor`` is given."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): still record the channel
        user = "unknown"
    return f"cli:{user}"[:64]


_F = TypeVar("_F", bound=Callable[..., Any])


def actor_option(command: _F) -> _F:
    """``--actor NAME`` (default ``cli:<OS user>``): recorded in the audit event."""
    return click.option(
        "--actor",
        default=default_actor,
        show_default="cli:<OS user>",
        help="Who is doing this, for the audit log.",
    )(command)


def community_option(command: _F) -> _F:
    """``--community CODE`` (default: the only community)."""
    return click.option(
        "--community",
        "community_code",
        metavar="CODE",
        help="Community code or id (default: the only community in the database).",
    )(command)


@contextmanager
def office_job(*, writes: bool) -> Iterator[OfficeJob]:
    """Open the configured database for one CLI job and its one unit of work.

    ``writes=False``: the job only reads (on SQLite it never takes the write lock).
    The unit commits when the block succeeds and rolls back on any error (a
    ``ClickException`` included): a failed command writes nothing. Clean errors when the
    database is not ready.
    """
    from gate.migrations import DatabaseUnavailable, SchemaOutOfDate, opened_database
    from gate.settings import SettingsError, load_settings
    from gate.unit_of_work import UnitOfWork

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with (
            opened_database(settings.database_url) as sessions,
            UnitOfWork(sessions, writes=writes) as unit,
        ):
            yield OfficeJob(settings, unit)
    except (DatabaseUnavailable, SchemaOutOfDate) as exc:
        raise click.ClickException(str(exc)) from None


def translate(message_id: str, **params: Any) -> str:
    """``message_id`` (an English msgid of the UI catalogue) in Chinese, the CLI's language.

    The same catalogue the web pages use (gate/translations): one translation channel.
    Falls back to the English text when the catalogue has no translation.
    """
    text = str(_chinese_catalogue().gettext(message_id))
    return text % params if params else text


@functools.cache
def _chinese_catalogue() -> Any:
    from babel.support import Translations

    from gate.translations.catalog import HERE

    return Translations.load(str(HERE), ["zh_Hans_CN"])


#: Below this many items a progress bar is noise.
PROGRESS_MIN_ITEMS = 200


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A click progress bar on stderr (for ``total`` >= 200 items); yields ``advance(n)``."""
    if total < PROGRESS_MIN_ITEMS:
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda n: bar.update(max(0, n))


class RunningCount:
    """Turns a running total (``on_progress(done_so_far)``) into progress-bar steps."""

    def __init__(self) -> None:
        self.advance: Callable[[int], None] = lambda _n: None
        self.last = 0

    def __call__(self, count: int) -> None:
        self.advance(count - self.last)
        self.last = count


def pick_community(session: DbSession, code: str | None) -> Community:
    """The community for ``--community`` (its code or its id; default: the only one), or a
    clean CLI error in Chinese."""
    from gate.community.operations import CommunityError, find_community
    from gate.community.queries import community_by_id

    if code is not None and code.isascii() and code.isdigit():
        by_id = community_by_id(session, int(code))
        if by_id is not None:
            return by_id
    try:
        return find_community(session, code)
    except CommunityError as exc:
        raise click.ClickException(translate(exc.message_id, **exc.params)) from None
