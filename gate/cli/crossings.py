"""``checkpoint crossings``: export the crossing log to CSV or XLSX; roll up the per-hour
counts."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate.cli.support import RunningCount, office_job, progress_bar
from gate.unit_of_work import DbSession

if TYPE_CHECKING:
    from gate.crossings.export import ExportRefused, Format
    from gate.crossings.log_filters import LogFilter


@click.group(
    name="crossings",
    help=(
        "The crossing log: export it for the office or an auditor.\n\n"
        "Example: checkpoint crossings export --from 2026-11-01 --to 2026-11-30 "
        "--format xlsx --out 11月.xlsx"
    ),
)
def crossings_group() -> None:
    """Crossing commands."""


@crossings_group.command(
    "export",
    help=(
        "Export the crossings of local dates FROM..TO (both inclusive) to CSV (UTF-8 with BOM, "
        "opens in Excel) or XLSX, with times in the community's zone and the head of household's "
        "name masked. --unmasked shows full names and needs an admin account (--as-admin) and "
        "its password (asked for, or one line on stdin with --password-stdin), checked before "
        "any row is read; every export is written to the audit log with that admin.\n\n"
        "Example: checkpoint crossings export --from 2026-11-22 --to 2026-11-22 --gate south "
        "--format csv --out 南门-1122.csv"
    ),
)
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--gate", "gate_code", help="Only this gate (its code).")
@click.option("--household", "household_code", help="Only this household (its code, e.g. 3-2-401).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), required=True)
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--unmasked", is_flag=True, help="Full names (needs --as-admin; audited).")
@click.option("--as-admin", "admin_username", help="Username of the admin taking the export.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the admin's password from the first line of stdin instead of asking.",
)
@click.option(
    "--late-only",
    is_flag=True,
    help="Only entries of people who came back later than the rules allow (超时返回).",
)
@click.option("--community", "community_id", type=int, help="Default: the only community.")
def export_command(
    from_day: datetime,
    to_day: datetime,
    gate_code: str | None,
    household_code: str | None,
    fmt: Format,
    out_path: Path,
    unmasked: bool,
    admin_username: str | None,
    password_stdin: bool,
    late_only: bool,
    community_id: int | None,
) -> None:
    """Export crossings: read and write the file in a read-only job (no write lock), then
    record the export in a short writing job; the file appears only once it is recorded."""
    from gate.crossings.export import export_crossings, record_export
    from gate.crossings.log_filters import count_log

    if to_day < from_day:
        raise click.BadParameter("--to 早于 --from / --to is before --from", param_hint="--to")
    if unmasked and not admin_username:
        raise click.UsageError(
            "--unmasked 需要 --as-admin 管理员账号 / --unmasked needs --as-admin USERNAME "
            "(an admin account)"
        )
    password = _admin_password(from_stdin=password_stdin) if unmasked else None
    with office_job(writes=False) as job:
        export = _prepare(
            job.session,
            community_id,
            from_day.date(),
            to_day.date(),
            gate_code,
            household_code,
            admin_username,
            unmasked=unmasked,
            password=password,
        )
        if late_only:
            export = replace(export, filter=replace(export.filter, late_only=True))
        total = count_log(job.session, export.filter)
        click.echo(f"正在导出 {total} 条通行记录 / exporting {total} crossings…", err=True)
        partial = out_path.with_name(f".{out_path.name}.partial")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with partial.open("wb") as out, progress_bar(total, "导出") as advance:
                progress = RunningCount()
                progress.advance = advance
                written = export_crossings(
                    job.session,
                    export.filter,
                    fmt=fmt,
                    out=out,
                    unmasked=unmasked,
                    on_progress=progress,
                )
        except BaseException:
            partial.unlink(missing_ok=True)  # never leave half a file (with names) behind
            raise
    try:
        with office_job(writes=True) as job:
            record_export(
                job.session,
                export.filter,
                fmt=fmt,
                unmasked=unmasked,
                rows=written,
                actor=f"cli:{export.username}" if export.username else "cli",
                user_id=export.user_id,
                file=out_path.name,
            )
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)  # an export that is not in the audit log is not kept
        raise
    click.echo(
        f"已写入 {written} 条通行记录：{out_path} / {written} crossings written to {out_path}"
    )


@dataclass(frozen=True)
class _Export:
    """What to export and who takes it, resolved from the command line."""

    filter: LogFilter
    user_id: int | None
    username: str | None


@crossings_group.command(
    "rollup",
    help=(
        "Count the crossings stored since the last roll-up into the per-hour chart's quarter "
        "hours (the office's overview then reads a few thousand counts instead of millions of "
        "rows). Exact at any time: what is not rolled up yet is counted live. Run it every few "
        "minutes (a timer or cron); it never delays a scan.\n\n"
        "Example: checkpoint crossings rollup"
    ),
)
def rollup_command() -> None:
    """Roll up in one writing job; says how many crossings it counted."""
    from datetime import UTC

    from gate.crossings.quarter_counts import roll_up

    with office_job(writes=True) as job:
        result = roll_up(job.session, datetime.now(UTC))
    if result.writers_busy:
        click.echo(
            "有写入通行记录的事务仍未结束，本次未汇总 / "
            "transactions writing crossings did not end in time: nothing rolled up this time",
            err=True,
        )
        return
    click.echo(
        f"已汇总 {result.crossings} 条通行记录（至 #{result.mark_after}）/ "
        f"rolled up {result.crossings} crossings (up to #{result.mark_after})"
    )


def _prepare(
    session: DbSession,
    community_id: int | None,
    first_day: date,
    last_day: date,
    gate_code: str | None,
    household_code: str | None,
    admin_username: str | None,
    *,
    unmasked: bool,
    password: str | None = None,
) -> _Export:
    from gate.community.operations import CommunityError, find_community
    from gate.community.queries import community_by_id
    from gate.crossings.export import ExportRefused, export_account
    from gate.crossings.log_filters import LogFilter, gate_id_by_code
    from gate.households.queries import household_by_code

    if community_id is not None:
        community = community_by_id(session, community_id)
        if community is None:
            raise click.ClickException(
                f"没有编号为 {community_id} 的社区 / no community with id {community_id}"
            )
    else:
        try:
            community = find_community(session, None)
        except CommunityError as exc:
            raise click.ClickException(f"请用 --community 选择社区 / {exc}") from None
    user = None
    if admin_username:
        try:
            user = export_account(
                session, community.id, admin_username, unmasked=unmasked, password=password
            )
        except ExportRefused as refused:
            raise click.ClickException(_refusal(refused)) from None
    gate_id = None
    if gate_code:
        gate_id = gate_id_by_code(session, community.id, gate_code)
        if gate_id is None:
            raise click.ClickException(
                f"没有代码为 {gate_code!r} 的出入口 / no gate with code {gate_code!r}"
            )
    if household_code and household_by_code(session, community.id, household_code) is None:
        raise click.ClickException(
            f"没有编号为 {household_code!r} 的住户 / no household with code {household_code!r}"
        )
    return _Export(
        filter=LogFilter(
            community_id=community.id,
            timezone=community.timezone,
            date_from=first_day,
            date_to=last_day,
            gate_id=gate_id,
            household_code=household_code,
        ),
        user_id=None if user is None else user.id,
        username=None if user is None else user.username,
    )


def _admin_password(*, from_stdin: bool) -> str:
    """The admin's password: the first line of stdin, or typed at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    password: str = click.prompt("管理员密码 / admin password", hide_input=True)
    return password


def _refusal(refused: ExportRefused) -> str:
    name = refused.username
    if refused.code == "bad_password":
        return f"{name} 的密码不正确，未导出 / wrong password for {name}: nothing exported"
    if refused.code == "not_admin":
        return f"{name} 不是管理员，不能导出完整姓名 / {name} is not an admin: --unmasked refused"
    return f"本社区没有有效账号 {name!r} / no active user {name!r} in this community"
