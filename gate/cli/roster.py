"""``checkpoint roster``: duty shifts at the gates (值守排班): plan a week from time slots,
copy last week, put volunteers and supervisors on shifts, see who is on duty and which shifts
today have nobody, export to Excel."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errors import N_
from gate.roster.export import STATUS_ZH, export_roster, shift_row
from gate.roster.models import Duty
from gate.roster.operations import (
    RosterError,
    assign,
    copy_week,
    find_roster_gate,
    parse_slots,
    plan_shifts,
    remove_shift,
    unassign,
)
from gate.roster.queries import (
    community_zone,
    day_span,
    on_duty,
    shift_view,
    shifts_between,
    uncovered_today,
    week_of,
)


@click.group(
    "roster",
    help=(
        "值守排班：各出入口的班次（时段）、值守的志愿者和主管；扫码机和手机出入口显示当班人员，"
        "每条出入记录记下当时的班次；查看今天无人值守的班次；导出 Excel。\n\n"
        "Duty shifts at the gates: time slots, the volunteers and supervisors on them.\n\n\b\n"
        "排一周：checkpoint roster plan --gate south --from 2026-12-07 "
        "--slots 06:00-14:00,14:00-22:00\n"
        "复制上周：checkpoint roster copy-week --from 2026-11-30 --to 2026-12-07\n"
        "安排人员：checkpoint roster assign --shift 12 --user zhang.vol\n"
        "今天缺人：checkpoint roster gaps\n\n"
        "Example: checkpoint roster list --week 2026-12-07"
    ),
)
def roster_group() -> None:
    """Duty roster commands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: RosterError) -> click.ClickException:
    return click.ClickException(translate(exc.message_id, **exc.params))


def _day(text: str | None, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(
            translate(N_("A date is written like 2026-12-07 (got %(text)s)."), text=text)
        ) from None


_GATE_HELP = "出入口代码（如 south）。Gate code."
_SHIFT_HELP = "班次编号（roster list 第一列）。Shift number, as roster list shows it."


@roster_group.command(
    "plan",
    help=(
        "按时段排班：从某天起连续若干天，每天每个时段一个班次（时段可跨午夜，如 22:00-06:00）。"
        "已有的同一班次不会重复；与已有班次重叠则什么也不写。\n\n\b\n"
        "示例：checkpoint roster plan --gate south --from 2026-12-07 --days 7 "
        "--slots 06:00-14:00,14:00-22:00,22:00-06:00\n"
        "Example: checkpoint roster plan --gate south --slots 08:00-20:00 --need-supervisor"
    ),
)
@community_option
@click.option("--gate", "gate_code", required=True, help=_GATE_HELP)
@click.option("--from", "first", help="第一天（默认今天）。First day, YYYY-MM-DD (default today).")
@click.option("--days", type=int, default=7, show_default=True, help="天数。How many days.")
@click.option(
    "--slots", required=True, help="时段，逗号分隔，如 06:00-14:00,14:00-22:00。Time slots."
)
@click.option(
    "--need-supervisor",
    is_flag=True,
    help="每班须有主管在岗才算排满。A shift is covered only with a supervisor too.",
)
@actor_option
def plan_command(
    community_code: str | None,
    gate_code: str,
    first: str | None,
    days: int,
    slots: str,
    need_supervisor: bool,
    actor: str,
) -> None:
    """Plan shifts."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        zone = community_zone(job.session, community.id)
        try:
            gate = find_roster_gate(job.session, community.id, gate_code)
            added = plan_shifts(
                job.session,
                community_id=community.id,
                gate=gate,
                first_day=_day(first, _now().astimezone(zone).date()),
                days=days,
                slots=parse_slots(slots),
                needs_supervisor=need_supervisor,
                actor=actor,
            )
        except RosterError as exc:
            raise _refused(exc) from None
        gate_name = gate.name
    click.echo(
        translate(N_("%(count)d shifts added at %(gate)s."), count=len(added), gate=gate_name)
    )


@roster_group.command(
    "copy-week",
    help=(
        "把某一周（周一开始）的班次连同人员复制到另一周，时间不变。\n\n\b\n"
        "示例：checkpoint roster copy-week --from 2026-11-30 --to 2026-12-07\n"
        "Example: checkpoint roster copy-week --from 2026-11-30 --to 2026-12-07 --gate south"
    ),
)
@community_option
@click.option("--from", "source", required=True, help="要复制的那一周的某天。A day of that week.")
@click.option("--to", "target", required=True, help="目标周的某天。A day of the target week.")
@click.option("--gate", "gate_code", help="只复制这个出入口。" + _GATE_HELP)
@actor_option
def copy_week_command(
    community_code: str | None, source: str, target: str, gate_code: str | None, actor: str
) -> None:
    """Copy a week."""
    today = _now().date()
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            gate = None
            if gate_code is not None:
                gate = find_roster_gate(job.session, community.id, gate_code)
            added = copy_week(
                job.session,
                community_id=community.id,
                source_monday=week_of(_day(source, today)),
                target_monday=week_of(_day(target, today)),
                gate=gate,
                actor=actor,
            )
        except RosterError as exc:
            raise _refused(exc) from None
    click.echo(translate(N_("%(count)d shifts copied."), count=len(added)))


@roster_group.command(
    "list",
    help=(
        "列出一周的班次（制表符分隔：编号、出入口、日期、星期、开始、结束、志愿者、主管、"
        "需主管、状态）。\n\n\b\n"
        "示例：checkpoint roster list --week 2026-12-07 --gate south\n"
        "Example: checkpoint roster list"
    ),
)
@community_option
@click.option("--week", help="这一周的某天（默认本周）。A day of the week (default this week).")
@click.option("--gate", "gate_code", help=_GATE_HELP)
def list_command(community_code: str | None, week: str | None, gate_code: str | None) -> None:
    """List a week's shifts."""
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        zone = community_zone(job.session, community.id)
        monday = week_of(_day(week, _now().astimezone(zone).date()))
        start, end = day_span(monday, zone, days=7)
        try:
            gate_id = None
            if gate_code is not None:
                gate_id = find_roster_gate(job.session, community.id, gate_code).id
        except RosterError as exc:
            raise _refused(exc) from None
        rows = [
            shift_row(view, zone)[:-1]
            for view in shifts_between(job.session, community.id, start, end, gate_id=gate_id)
        ]
    if not rows:
        click.echo(translate(N_("No shifts in the week of %(week)s."), week=monday.isoformat()))
    for row in rows:
        click.echo("\t".join(str(cell) if cell != "" else "-" for cell in row))


@roster_group.command(
    "assign",
    help=(
        "安排人员值守某个班次：用账号（--user，志愿者、网格员、主管），或没有账号的志愿者"
        "直接写姓名（--name，如 党员先锋队队员）。--supervisor 表示以主管身份在岗。\n\n\b\n"
        "示例：checkpoint roster assign --shift 12 --user zhang.vol\n"
        "示例：checkpoint roster assign --shift 12 --name 李四（党员先锋队）\n"
        "Example: checkpoint roster assign --shift 12 --user wang.sup --supervisor"
    ),
)
@community_option
@click.option("--shift", "shift_id", type=int, required=True, help=_SHIFT_HELP)
@click.option("--user", "username", help="账号名。Account name.")
@click.option("--name", help="没有账号的志愿者姓名。A volunteer's name (no account).")
@click.option("--supervisor", is_flag=True, help="以主管身份值守。On duty as the supervisor.")
@actor_option
def assign_command(
    community_code: str | None,
    shift_id: int,
    username: str | None,
    name: str | None,
    supervisor: bool,
    actor: str,
) -> None:
    """Put someone on a shift."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            assign(
                job.session,
                community_id=community.id,
                shift_id=shift_id,
                duty=Duty.SUPERVISOR if supervisor else Duty.VOLUNTEER,
                username=username,
                name=name,
                actor=actor,
            )
        except RosterError as exc:
            raise _refused(exc) from None
        view = shift_view(job.session, community.id, shift_id)
        names = "、".join(view.names) if view is not None else ""
    click.echo(translate(N_("Shift %(shift)d: %(names)s."), shift=shift_id, names=names))


@roster_group.command(
    "unassign",
    help=(
        "把某人从班次上撤下（账号或姓名）。\n\n\b\n"
        "示例：checkpoint roster unassign --shift 12 --name 李四（党员先锋队）\n"
        "Example: checkpoint roster unassign --shift 12 --user zhang.vol"
    ),
)
@community_option
@click.option("--shift", "shift_id", type=int, required=True, help=_SHIFT_HELP)
@click.option("--user", "username", help="账号名。Account name.")
@click.option("--name", help="姓名。The name on the roster.")
@actor_option
def unassign_command(
    community_code: str | None,
    shift_id: int,
    username: str | None,
    name: str | None,
    actor: str,
) -> None:
    """Take someone off a shift."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        view = shift_view(job.session, community.id, shift_id)
        if view is None:
            raise _refused(RosterError("no_such_shift", shift=shift_id))
        person = next(
            (
                p
                for p in view.people
                if (username is not None and p.username == username)
                or (name is not None and p.username is None and p.name == name)
            ),
            None,
        )
        if person is None:
            raise _refused(RosterError("no_such_assignment"))
        unassign(
            job.session, community_id=community.id, assignment_id=person.assignment_id, actor=actor
        )
    click.echo(
        translate(N_("%(name)s taken off shift %(shift)d."), name=person.name, shift=shift_id)
    )


@roster_group.command(
    "remove",
    help=(
        "删除一个尚未开始的班次（已开始的班次会被出入记录引用，保留）。\n\n\b\n"
        "示例：checkpoint roster remove --shift 12\n"
        "Example: checkpoint roster remove --shift 12"
    ),
)
@community_option
@click.option("--shift", "shift_id", type=int, required=True, help=_SHIFT_HELP)
@actor_option
def remove_command(community_code: str | None, shift_id: int, actor: str) -> None:
    """Remove a future shift."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            remove_shift(
                job.session, community_id=community.id, shift_id=shift_id, actor=actor, now=_now()
            )
        except RosterError as exc:
            raise _refused(exc) from None
    click.echo(translate(N_("Shift %(shift)d removed."), shift=shift_id))


@roster_group.command(
    "now",
    help=(
        "各出入口此刻的当班人员。\n\n\b\n"
        "示例：checkpoint roster now\n"
        "Example: checkpoint roster now --gate south"
    ),
)
@community_option
@click.option("--gate", "gate_code", help=_GATE_HELP)
def now_command(community_code: str | None, gate_code: str | None) -> None:
    """Who is on duty now."""
    from gate.devices.queries import gates_of

    at = _now()
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        zone = community_zone(job.session, community.id)
        gates = gates_of(job.session, community.id)
        if gate_code is not None:
            try:
                gates = [find_roster_gate(job.session, community.id, gate_code)]
            except RosterError as exc:
                raise _refused(exc) from None
        lines = []
        for gate in gates:
            view = on_duty(job.session, gate.id, at)
            if view is None:
                lines.append(f"{gate.name}\t{translate(N_('No shift now'))}")
                continue
            until = view.ends_at.astimezone(zone)
            names = "、".join(view.names) or STATUS_ZH["nobody"]
            lines.append(
                f"{gate.name}\t{names}\t" + translate(N_("until %(until)s"), until=f"{until:%H:%M}")
            )
    for line in lines:
        click.echo(line)


@roster_group.command(
    "gaps",
    help=(
        "今天还没排满的班次（无人值守或缺主管），尚未结束的。有缺口时退出码为 1。\n\n\b\n"
        "示例：checkpoint roster gaps\n"
        "Example: checkpoint roster gaps --community xfl"
    ),
)
@community_option
def gaps_command(community_code: str | None) -> None:
    """Today's uncovered shifts."""
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        zone = community_zone(job.session, community.id)
        rows = [
            shift_row(view, zone) for view in uncovered_today(job.session, community.id, _now())
        ]
    if not rows:
        click.echo(translate(N_("Every shift today is covered.")))
        return
    for row in rows:
        click.echo("\t".join(str(cell) for cell in (row[0], row[1], row[4], row[5], row[9])))
    raise SystemExit(1)


@roster_group.command(
    "export",
    help=(
        "把排班导出为 Excel（.xlsx）：每个班次一行，未排满的标红。\n\n\b\n"
        "示例：checkpoint roster export --week 2026-12-07 --out 排班表.xlsx\n"
        "Example: checkpoint roster export --out roster.xlsx"
    ),
)
@community_option
@click.option("--week", help="这一周的某天（默认本周）。A day of the week (default this week).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出文件（.xlsx）。The workbook to write.",
)
@actor_option
def export_command(
    community_code: str | None, week: str | None, out_path: Path, actor: str
) -> None:
    """Export a week to Excel."""
    if not out_path.resolve().parent.is_dir():
        raise click.ClickException(
            translate(N_("The folder %(path)s does not exist."), path=str(out_path.parent))
        )
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        zone = community_zone(job.session, community.id)
        monday = week_of(_day(week, _now().astimezone(zone).date()))
        data = export_roster(
            job.session,
            community_id=community.id,
            first_day=monday,
            days=7,
            actor=actor,
            now=_now(),
        )
        # Written before the job commits: a file that cannot be written leaves no event.
        handle, temporary = tempfile.mkstemp(
            dir=out_path.resolve().parent, prefix=".roster-", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, out_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    sunday = monday + timedelta(days=6)
    click.echo(
        translate(
            N_("Roster %(first)s to %(last)s written to %(path)s."),
            first=monday.isoformat(),
            last=sunday.isoformat(),
            path=str(out_path),
        )
    )
