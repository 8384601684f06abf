"""``checkpoint supervisors``: issue, list, print and revoke supervisor cards (主管卡)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errors import N_
from gate.supervisors.models import SupervisorCardRecord
from gate.supervisors.operations import (
    DEFAULT_VALID_DAYS,
    SupervisorCardError,
    card_file,
    find_card,
    issue_supervisor_card,
    revoke_supervisor_card,
    short_id,
    supervisor_cards,
)
from gate.unit_of_work import DbSession


@click.group(
    "supervisors",
    help=(
        "Supervisor cards (主管卡): a signed card that lets a supervisor override a refused\n"
        "crossing at the gate (scan it after the refusal, pick a reason), online and offline,\n"
        "and unlock a scanner's clock-fault or stale-data screen. Revoked cards stop working\n"
        "at once online, and offline at the scanner's next sync.\n\n\b\n"
        "发放主管卡：checkpoint supervisors issue --user wang.sup --out 主管卡.pdf\n"
        "查看：checkpoint supervisors list\n"
        "作废：checkpoint supervisors revoke --card 0C0D0E0F --reason 遗失\n\n"
        "Example: checkpoint supervisors issue --user wang.sup --days 180 --out card.png"
    ),
)
def supervisors_group() -> None:
    """Supervisor card commands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: SupervisorCardError) -> click.ClickException:
    return click.ClickException(translate(exc.message_id, **exc.params))


def _write(session: DbSession, record: SupervisorCardRecord, out_path: Path, *, actor: str) -> None:
    """Render the card to ``out_path`` (PDF for ``.pdf``, else PNG), audited."""
    pdf = out_path.suffix.lower() == ".pdf"
    data = card_file(session, record, pdf=pdf, actor=actor, file_name=out_path.name)
    # Written before the job commits: a file that cannot be written leaves no event.
    directory = out_path.resolve().parent
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".card-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_OUT_HELP = "Write the card to this file: .pdf (one card on A4) or .png (300 dpi)."


@supervisors_group.command(
    "issue",
    help=(
        "Issue a supervisor card to an account with the supervisor (or admin) role, signed\n"
        "with the community's key; prints the card number, and writes the card with --out.\n\n\b\n"
        "示例：checkpoint supervisors issue --user wang.sup --days 180 --out 王主任.pdf\n"
        "Example: checkpoint supervisors issue --user wang.sup --out card.png"
    ),
)
@community_option
@click.option("--user", "username", required=True, help="The supervisor's account name.")
@click.option(
    "--days",
    "valid_days",
    type=int,
    default=DEFAULT_VALID_DAYS,
    show_default=True,
    help="How many days the card is valid.",
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help=_OUT_HELP)
@actor_option
def issue_command(
    community_code: str | None, username: str, valid_days: int, out_path: Path | None, actor: str
) -> None:
    """Issue a card."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            issued = issue_supervisor_card(
                job.session,
                community_id=community.id,
                username=username,
                valid_days=valid_days,
                actor=actor,
                now=_now(),
            )
            if out_path is not None:
                _write(job.session, issued.record, out_path, actor=actor)
        except SupervisorCardError as exc:
            raise _refused(exc) from None
        number = short_id(issued.record.card_id)
        until = issued.record.valid_until.date().isoformat()
    click.echo(
        translate(
            N_("Supervisor card %(card)s issued to %(username)s, valid until %(until)s."),
            card=number,
            username=issued.holder.username,
            until=until,
        )
    )
    if out_path is not None:
        click.echo(translate(N_("Card written to %(path)s."), path=str(out_path)))


@supervisors_group.command(
    "list",
    help=(
        "List the community's supervisor cards: number, holder, validity, state.\n\n\b\n"
        "示例：checkpoint supervisors list\nExample: checkpoint supervisors list"
    ),
)
@community_option
def list_command(community_code: str | None) -> None:
    """List cards."""
    now = _now()
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        rows = supervisor_cards(job.session, community.id)
        for record, user in rows:
            if record.revoked_at is not None:
                state = f"已作废 {record.revoked_at.date().isoformat()}"
            elif record.valid_until < now:
                state = "已过期"
            else:
                state = "有效"
            click.echo(
                f"{short_id(record.card_id)}\t{user.username}\t{user.display_name}\t"
                f"{record.issued_at.date().isoformat()}\t{record.valid_until.date().isoformat()}"
                f"\t{state}"
            )
        if not rows:
            click.echo(translate(N_("No supervisor cards yet.")))


@supervisors_group.command(
    "print",
    help=(
        "Write an issued card again (a new copy, the same card): .pdf or .png.\n\n\b\n"
        "示例：checkpoint supervisors print --card 0C0D0E0F --out 主管卡.pdf\n"
        "Example: checkpoint supervisors print --card 0C0D0E0F --out card.png"
    ),
)
@community_option
@click.option("--card", required=True, help="The card number (its first 8 characters).")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help=_OUT_HELP,
)
@actor_option
def print_command(community_code: str | None, card: str, out_path: Path, actor: str) -> None:
    """Print a card."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            record = find_card(job.session, community.id, card)
            _write(job.session, record, out_path, actor=actor)
        except SupervisorCardError as exc:
            raise _refused(exc) from None
    click.echo(translate(N_("Card written to %(path)s."), path=str(out_path)))


@supervisors_group.command(
    "revoke",
    help=(
        "Revoke a supervisor card (lost, or its holder left): refused at once online, and\n"
        "offline from each scanner's next sync. Overrides made before stay valid.\n\n\b\n"
        "示例：checkpoint supervisors revoke --card 0C0D0E0F --reason 遗失\n"
        "Example: checkpoint supervisors revoke --card 0C0D0E0F --reason lost"
    ),
)
@community_option
@click.option("--card", required=True, help="The card number (its first 8 characters).")
@click.option("--reason", required=True, help="Why, for the audit log.")
@actor_option
def revoke_command(community_code: str | None, card: str, reason: str, actor: str) -> None:
    """Revoke a card."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            record = revoke_supervisor_card(
                job.session,
                community_id=community.id,
                card=card,
                reason=reason,
                actor=actor,
                now=_now(),
            )
        except SupervisorCardError as exc:
            raise _refused(exc) from None
        number = short_id(record.card_id)
    click.echo(translate(N_("Supervisor card %(card)s revoked."), card=number))
