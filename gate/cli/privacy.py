"""``checkpoint privacy``: retention, purges, a household's data export, the end of a lockdown."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate.cli.support import (
    actor_option,
    community_option,
    office_job,
    pick_community,
    translate,
)
from gate.errors import N_

if TYPE_CHECKING:
    from gate.privacy.retention import PrivacyError
    from gate.unit_of_work import DbSession
    from passes import SigningKey


@click.group(
    "privacy",
    help=(
        "Let the data go when the lockdown ends: how long crossings are kept, the purge (the "
        "log stays verifiable from a signed checkpoint), a household's data for an access "
        "request, and closing a community.\n\n"
        "Example: checkpoint privacy retention --days 30"
    ),
)
def privacy_group() -> None:
    """Retention, purge, export and end of lockdown."""


def _refusal(error: PrivacyError) -> click.ClickException:
    return click.ClickException(translate(error.message_id, **error.params))


def _signing_key(session: DbSession, community_id: int) -> SigningKey | None:
    from gate.signing.operations import SigningKeyUnavailable, active_signing_key

    try:
        return active_signing_key(session, community_id)
    except SigningKeyUnavailable:
        return None


def _local(moment: datetime | None, zone: str) -> str:
    from zoneinfo import ZoneInfo

    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@privacy_group.command(
    "retention",
    help=(
        "Show or set how many days crossings and temperatures are kept after the lockdown "
        "ends (the full purge is due then).\n\n"
        "Example: checkpoint privacy retention --community xfl --days 30"
    ),
)
@community_option
@click.option("--days", type=int, help="Set the retention to this many days (0-3650).")
@actor_option
def retention_command(community_code: str | None, days: int | None, actor: str) -> None:
    """Show or set the retention."""
    from gate.privacy.retention import PrivacyError, purge_due_at, retention_of, set_retention

    with office_job(writes=days is not None) as job:
        community = pick_community(job.session, community_code)
        if days is not None:
            try:
                set_retention(job.session, community.id, days, actor=actor)
            except PrivacyError as exc:
                raise _refusal(exc) from None
        row = retention_of(job.session, community.id)
        ended, due = row.lockdown_ended_at, purge_due_at(row)
        zone = community.timezone
    click.echo(
        translate(N_("Retention: %(days)d days after the lockdown ends"), days=row.retention_days)
    )
    if ended is None:
        click.echo(translate(N_("Lockdown: still in force")))
    else:
        click.echo(translate(N_("Lockdown ended: %(at)s"), at=_local(ended, zone)))
        click.echo(translate(N_("Purge due: %(at)s"), at=_local(due, zone)))


@privacy_group.command(
    "purge",
    help=(
        "Delete what is due: without --before, everything of a community whose lockdown ended "
        "more than the retention ago (crossings, temperatures, households, members, passes); "
        "with --before, only crossings scanned before that day. The log is first closed by a "
        "signed checkpoint (written to --out as well) and is verified from it afterwards.\n\n"
        "Example: checkpoint privacy purge --community xfl --out /media/usb/purge.json\n\n"
        "Example: checkpoint privacy purge --before 2026-11-01\n\n"
        "Example (daily, from a timer): checkpoint privacy purge --if-due"
    ),
)
@community_option
@click.option(
    "--before", type=click.DateTime(["%Y-%m-%d"]), help="Purge crossings before this day."
)
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path), help="Also write the checkpoint here."
)
@click.option(
    "--if-due",
    is_flag=True,
    help="For a daily timer: when no purge is due yet, say so and exit 0.",
)
@actor_option
def purge_command(
    community_code: str | None,
    before: datetime | None,
    out_path: Path | None,
    if_due: bool,
    actor: str,
) -> None:
    """Purge what is due."""
    from zoneinfo import ZoneInfo

    from gate.privacy.export import SHEET_TITLES
    from gate.privacy.purge import delete_import_uploads, purge
    from gate.privacy.retention import PrivacyError

    now = datetime.now(UTC)
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        cutoff = None
        if before is not None:
            cutoff = before.replace(tzinfo=ZoneInfo(community.timezone)).astimezone(UTC)
        key = _signing_key(job.session, community.id)
        try:
            result = purge(job.session, community.id, key, now=now, actor=actor, before=cutoff)
        except PrivacyError as exc:
            if not (if_due and exc.code == "not_due"):
                raise _refusal(exc) from None
            click.echo(translate(exc.message_id))
            return
        if result.full:
            uploads = delete_import_uploads(job.settings.instance_dir, community.id)
            result.deleted["import_uploads"] = uploads
    if out_path is not None:
        text = json.dumps(result.checkpoint, ensure_ascii=False, indent=2) + "\n"
        out_path.write_text(text, encoding="utf-8")
    click.echo(translate(N_("The log was closed by a signed checkpoint before the purge.")))
    for table, count in sorted(result.deleted.items()):
        click.echo(
            translate(
                N_("Deleted from %(table)s: %(count)d rows"),
                table=SHEET_TITLES.get(table, table),
                count=count,
            )
        )
    if out_path is not None:
        click.echo(
            translate(
                N_("Checkpoint written to %(path)s: copy it off this machine."), path=out_path
            )
        )


@privacy_group.command(
    "export",
    help=(
        "Write everything stored about one household (registry, members, passes and their "
        "phone links, crossings with temperatures, status history) to a spreadsheet, for an "
        "access request. Names and phones are masked unless --unmasked (an admin's password "
        "is asked). Audited.\n\n"
        "Example: checkpoint privacy export --household 3-2-401 --out 3-2-401.xlsx"
    ),
)
@community_option
@click.option("--household", "code", required=True, metavar="CODE", help="The household's code.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The .xlsx file to write.",
)
@click.option("--unmasked", is_flag=True, help="Names and phones in full (admins only).")
@click.option("--user", "username", help="The admin account taking an unmasked export.")
@actor_option
def export_command(
    community_code: str | None,
    code: str,
    out_path: Path,
    unmasked: bool,
    username: str | None,
    actor: str,
) -> None:
    """Export one household's data."""
    from gate.crossings.export import ExportRefused, export_account
    from gate.privacy.export import export_household
    from gate.privacy.retention import PrivacyError

    password = None
    if unmasked:
        if not username:
            raise click.ClickException(translate(N_("An unmasked export needs --user (an admin).")))
        password = click.prompt(
            translate(N_("Password of %(user)s"), user=username), hide_input=True
        )
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        user_id = None
        if unmasked:
            try:
                user = export_account(
                    job.session, community.id, username or "", unmasked=True, password=password
                )
            except ExportRefused:
                raise click.ClickException(
                    translate(
                        N_(
                            "An unmasked export needs an admin of this community"
                            " and the right password."
                        )
                    )
                ) from None
            user_id, actor = user.id, user.username
        try:
            data, counts = export_household(
                job.session, community.id, code, unmasked=unmasked, actor=actor, user_id=user_id
            )
        except PrivacyError as exc:
            raise _refusal(exc) from None
    out_path.write_bytes(data)
    for title, rows in counts.items():
        click.echo(translate(N_("%(sheet)s: %(rows)d rows"), sheet=title, rows=rows))
    click.echo(translate(N_("Written to %(path)s"), path=out_path))


@privacy_group.command(
    "end-lockdown",
    help=(
        "End the lockdown of a community: revoke every pass and scanner, close the log with a "
        "signed checkpoint, and schedule the purge after the retention. Asks you to type the "
        "community's name to confirm (or give --confirm NAME).\n\n"
        "Example: checkpoint privacy end-lockdown --community xfl"
    ),
)
@community_option
@click.option("--confirm", "confirmation", help="The community's name, typed to confirm.")
@actor_option
def end_lockdown_command(community_code: str | None, confirmation: str | None, actor: str) -> None:
    """End the lockdown."""
    from gate.privacy.retention import PrivacyError, end_lockdown

    now = datetime.now(UTC)
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        if confirmation is None:
            click.echo(
                translate(
                    N_(
                        "This revokes every pass and scanner of %(name)s"
                        " and schedules its data for deletion."
                    ),
                    name=community.name,
                )
            )
            confirmation = click.prompt(translate(N_("Type the community's name to confirm")))
        if confirmation.strip() != community.name:
            click.echo(
                translate(N_("The confirmation does not match the community's name.")), err=True
            )
            sys.exit(1)
        key = _signing_key(job.session, community.id)
        try:
            ended = end_lockdown(job.session, community.id, key, now=now, actor=actor)
        except PrivacyError as exc:
            raise _refusal(exc) from None
        zone = community.timezone
    click.echo(translate(N_("Passes revoked: %(count)d"), count=ended.passes_revoked))
    click.echo(translate(N_("Scanners revoked: %(count)d"), count=ended.devices_revoked))
    click.echo(translate(N_("Final checkpoint signed at %(at)s"), at=_local(now, zone)))
    click.echo(translate(N_("Purge due: %(at)s"), at=_local(ended.purge_due_at, zone)))
