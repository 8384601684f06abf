"""``checkpoint errands``: quarantine errands (代购代办) from the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from gate.accounts.models import Role
from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errands.export import errands_workbook, record_export
from gate.errands.labels import KIND_LABELS, STATUS_LABELS, error_text
from gate.errands.models import ErrandKind, ErrandStatus
from gate.errands.operations import (
    ErrandError,
    accept_errand,
    assign_errand,
    cancel_errand,
    create_errand,
    create_squad,
    deliver_errand,
    find_squad,
    runner_doer,
    set_squad_members,
)
from gate.errands.queries import ErrandFilter, ErrandRow, grids, list_errands, my_errands, squads
from gate.errands.status import Doer
from gate.errors import N_
from gate.unit_of_work import DbSession

KINDS = [kind.value for kind in ErrandKind]
STATUSES = [status.value for status in ErrandStatus]


@click.group(
    "errands",
    help=(
        "居家隔离户的代购代办：买菜、买药、垃圾清运等需求，指派给志愿者或小分队（如党员先锋队），\n"
        "状态为 待接单、已接单、已送达、已取消。\n\n\b\n"
        "登记需求：checkpoint errands add --household 3-2-401 --kind medicine --items 降压药\n"
        "查看：checkpoint errands list --grid 第一网格 --status new\n"
        "指派：checkpoint errands assign 12 --squad 党员先锋队A组\n"
        "接单：checkpoint errands accept 12 --user li.vol\n"
        "送达：checkpoint errands deliver 12 --user li.vol --note 已放门口\n"
        "导出：checkpoint errands export --out 代购代办.xlsx"
    ),
)
def errands_group() -> None:
    """Errand commands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: ErrandError) -> click.ClickException:
    return click.ClickException(error_text(exc, translate))


def _office(actor: str) -> Doer:
    # The CLI is run by the office on its server: it acts with the office's rights.
    return Doer(actor, role=Role.OFFICE)


def _grid_id(session: DbSession, community_id: int, typed: str | None) -> int | None:
    """The id of the community's grid named ``typed`` (or numbered so, as before); None for
    no filter. An unknown grid is refused with the grids there are."""
    if typed is None or not typed.strip():
        return None
    known = grids(session, community_id)
    wanted = typed.strip()
    by_name = [grid.id for grid in known if grid.name == wanted]
    by_id = [grid.id for grid in known if str(grid.id) == wanted]
    if by_name or by_id:
        return (by_name or by_id)[0]
    names = "、".join(grid.name for grid in known) or "—"
    raise click.BadParameter(
        translate(N_("No grid %(grid)s here. Grids: %(names)s"), grid=typed, names=names),
        param_hint="--grid",
    )


def _runner(session: DbSession, community_id: int, username: str) -> Doer:
    try:
        return runner_doer(session, community_id, username)
    except ErrandError as exc:
        raise _refused(exc) from None


@errands_group.command(
    "add",
    help=(
        "登记一条代购代办需求（只限居家隔离户或封控区住户）；可同时指派给志愿者（--user）或小分队（--squad）。\n\n\b\n"
        "类别：groceries 买菜/生活物资，medicine 买药，rubbish 垃圾清运，other 其他。\n"
        "示例：checkpoint errands add --household 3-2-401 --kind groceries "
        "--items 大米,鸡蛋,青菜 --squad 党员先锋队A组"
    ),
)
@community_option
@click.option("--household", required=True, help="户编号，例如 3-2-401。")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="类别。")
@click.option("--text", default="", help="需求说明（最多 200 字）。")
@click.option("--items", default="", help="物品清单，逗号或顿号分隔（最多 20 项）。")
@click.option("--user", "username", help="指派给这个志愿者账号。")
@click.option("--squad", help="指派给这个小分队。")
@actor_option
def add_command(
    community_code: str | None,
    household: str,
    kind: str,
    text: str,
    items: str,
    username: str | None,
    squad: str | None,
    actor: str,
) -> None:
    """Ask for an errand."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            errand = create_errand(
                job.session,
                community_id=community.id,
                household_code=household,
                kind=kind,
                text=text,
                items=items,
                assignee=username,
                squad=squad,
                by=_office(actor),
                now=_now(),
            )
        except ErrandError as exc:
            raise _refused(exc) from None
        number = errand.id
    click.echo(translate(N_("Errand %(errand)d requested."), errand=number))


def _line(row: ErrandRow, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    errand = row.errand
    zone = ZoneInfo(timezone)
    asked = errand.created_at.astimezone(zone).strftime("%m-%d %H:%M")
    done = (
        errand.delivered_at.astimezone(zone).strftime("%m-%d %H:%M") if errand.delivered_at else ""
    )
    what = "、".join(filter(None, [errand.text, *row.item_list]))
    return "\t".join(
        [
            str(errand.id),
            row.household_code,
            row.grid_name,
            translate(KIND_LABELS[errand.kind.value]),
            translate(STATUS_LABELS[errand.status.value]),
            row.assignee or "—",
            asked,
            done,
            what,
        ]
    )


@errands_group.command(
    "list",
    help=(
        "列出代购代办需求：可按网格、志愿者、小分队、状态、日期、户筛选。\n"
        "输出列：编号、户编号、网格、类别、状态、指派给、提出时间、送达时间、需求。\n\n\b\n"
        "状态：new 待接单，accepted 已接单，delivered 已送达，cancelled 已取消。\n"
        "示例：checkpoint errands list --status new\n"
        "示例：checkpoint errands list --user li.vol --date 2022-04-12"
    ),
)
@community_option
@click.option("--grid", "grid", help="网格名称（如 第一网格）或编号。")
@click.option("--user", "username", help="志愿者账号：指派给他、他所在小分队或由他接单的。")
@click.option("--squad", help="小分队名称。")
@click.option("--status", type=click.Choice(STATUSES), help="状态。")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="提出日期 YYYY-MM-DD。")
@click.option("--household", help="户编号。")
@click.option("--mine", is_flag=True, help="与 --user 一起：只列他现在要做的（志愿者的任务单）。")
def list_command(
    community_code: str | None,
    grid: str | None,
    username: str | None,
    squad: str | None,
    status: str | None,
    day: datetime | None,
    household: str | None,
    mine: bool,
) -> None:
    """List errands."""
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        grid_id = _grid_id(job.session, community.id, grid)
        user_id = _runner(job.session, community.id, username).user_id if username else None
        try:
            squad_id = find_squad(job.session, community.id, squad).id if squad else None
        except ErrandError as exc:
            raise _refused(exc) from None
        if mine and user_id is not None:
            rows = my_errands(
                job.session, community.id, user_id, since=_now() - timedelta(hours=24)
            )
        else:
            where = ErrandFilter(
                grid_id=grid_id,
                user_id=user_id,
                squad_id=squad_id,
                status=ErrandStatus(status) if status else None,
                day=date(day.year, day.month, day.day) if day else None,
                household_code=household,
            )
            rows = list_errands(job.session, community.id, where, timezone=community.timezone)
        for row in rows:
            click.echo(_line(row, community.timezone))
        if not rows:
            click.echo(translate(N_("No errand matches.")))


def _move_command(name: str, help_text: str) -> click.Command:
    """``assign``, ``accept``, ``deliver`` and ``cancel`` share their shape."""

    @click.argument("errand_id", type=int, metavar="编号")
    @community_option
    @actor_option
    def command(errand_id: int, community_code: str | None, actor: str, **options: str) -> None:
        with office_job(writes=True) as job:
            community = pick_community(job.session, community_code)
            now = _now()
            try:
                if name == "assign":
                    assign_errand(
                        job.session,
                        community_id=community.id,
                        errand_id=errand_id,
                        assignee=options.get("username"),
                        squad=options.get("squad"),
                        by=_office(actor),
                        now=now,
                    )
                    message = N_("Errand %(errand)d assigned.")
                elif name == "accept":
                    runner = _runner(job.session, community.id, options["username"])
                    accept_errand(
                        job.session,
                        community_id=community.id,
                        errand_id=errand_id,
                        by=runner,
                        now=now,
                    )
                    message = N_("Errand %(errand)d accepted: it is yours now.")
                elif name == "deliver":
                    username = options.get("username")
                    doer = (
                        _runner(job.session, community.id, username) if username else _office(actor)
                    )
                    deliver_errand(
                        job.session,
                        community_id=community.id,
                        errand_id=errand_id,
                        note=options.get("note"),
                        by=doer,
                        now=now,
                    )
                    message = N_("Errand %(errand)d delivered. Thank you!")
                else:
                    cancel_errand(
                        job.session,
                        community_id=community.id,
                        errand_id=errand_id,
                        reason=options.get("reason"),
                        by=_office(actor),
                        now=now,
                    )
                    message = N_("Errand %(errand)d cancelled.")
            except ErrandError as exc:
                raise _refused(exc) from None
        click.echo(translate(message, errand=errand_id))

    command.__doc__ = help_text.split("\n", 1)[0]
    return click.command(name, help=help_text)(command)


_assign = _move_command(
    "assign",
    "把需求指派（或改派）给志愿者或小分队；已接单的会退回待接单。"
    "不给 --user 和 --squad：取消指派。\n\n"
    "\b\n示例：checkpoint errands assign 12 --squad 党员先锋队A组",
)
_assign = click.option("--user", "username", help="志愿者账号。")(_assign)
_assign = click.option("--squad", help="小分队名称。")(_assign)
_accept = _move_command(
    "accept",
    "志愿者接单（只限指派给他或他所在小分队的待接单需求）。\n\n"
    "\b\n示例：checkpoint errands accept 12 --user li.vol",
)
_accept = click.option("--user", "username", required=True, help="接单的志愿者账号。")(_accept)
_deliver = _move_command(
    "deliver",
    "标记已送达（记录送达时间）：由接单的志愿者（--user），或由社区代为登记（不给 --user）。\n\n"
    "\b\n示例：checkpoint errands deliver 12 --user li.vol --note 已放门口",
)
_deliver = click.option("--user", "username", help="接单的志愿者账号。")(_deliver)
_deliver = click.option("--note", default="", help="送达备注（最多 200 字）。")(_deliver)
_cancel = _move_command(
    "cancel",
    "取消一条待接单或已接单的需求（须写原因）。\n\n\b\n"
    "示例：checkpoint errands cancel 12 --reason 已解除隔离",
)
_cancel = click.option("--reason", required=True, help="取消原因，记入操作日志。")(_cancel)
for _command in (_assign, _accept, _deliver, _cancel):
    errands_group.add_command(_command)


@errands_group.command(
    "export",
    help=(
        "把（筛选后的）需求导出为 Excel 表格，类别和状态各有中文和代码两列。\n\n\b\n"
        "示例：checkpoint errands export --status delivered --out 已送达.xlsx"
    ),
)
@community_option
@click.option("--status", type=click.Choice(STATUSES), help="状态。")
@click.option("--grid", "grid", help="网格名称（如 第一网格）或编号。")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="写入的 .xlsx 文件。",
)
@actor_option
def export_command(
    community_code: str | None, status: str | None, grid: str | None, out_path: Path, actor: str
) -> None:
    """Export errands."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        grid_id = _grid_id(job.session, community.id, grid)
        where = ErrandFilter(grid_id=grid_id, status=ErrandStatus(status) if status else None)
        rows = list_errands(
            job.session, community.id, where, timezone=community.timezone, limit=None
        )
        data = errands_workbook(rows, timezone=community.timezone, translate=translate)
        try:
            out_path.write_bytes(data)
        except OSError as exc:
            raise click.ClickException(
                translate(
                    N_("Cannot write %(path)s: %(error)s"), path=str(out_path), error=str(exc)
                )
            ) from None
        record_export(job.session, community_id=community.id, rows=len(rows), actor=actor)
    click.echo(
        translate(N_("%(count)d errands written to %(path)s."), count=len(rows), path=str(out_path))
    )


@errands_group.command(
    "squads",
    help=(
        "列出小分队及其成员；给 --name 和 --members 时新建小分队（已有则替换成员）。\n\n\b\n"
        "示例：checkpoint errands squads --name 党员先锋队A组 --members li.vol,zhao.vol\n"
        "示例：checkpoint errands squads"
    ),
)
@community_option
@click.option("--name", help="小分队名称，例如 党员先锋队A组。")
@click.option("--members", default="", help="成员账号，逗号分隔。")
@actor_option
def squads_command(community_code: str | None, name: str | None, members: str, actor: str) -> None:
    """List or form squads."""
    usernames = [part.strip() for part in members.replace("，", ",").split(",") if part.strip()]
    with office_job(writes=name is not None) as job:
        community = pick_community(job.session, community_code)
        try:
            if name is not None:
                try:
                    find_squad(job.session, community.id, name)
                    set_squad_members(
                        job.session,
                        community_id=community.id,
                        name=name,
                        members=usernames,
                        actor=actor,
                    )
                except ErrandError as exc:
                    if exc.code != "no_squad":
                        raise
                    create_squad(
                        job.session,
                        community_id=community.id,
                        name=name,
                        members=usernames,
                        actor=actor,
                    )
        except ErrandError as exc:
            raise _refused(exc) from None
        found = squads(job.session, community.id)
        for squad, users in found:
            names = "、".join(f"{user.display_name}({user.username})" for user in users)
            click.echo(f"{squad.name}\t{names}")
        if not found:
            click.echo(translate(N_("No squads yet.")))
