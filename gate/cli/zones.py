"""``checkpoint zones``: lockdown zones (封控区/管控区/防范区) over a building, compound or grid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click

from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errors import N_
from gate.zones.labels import LEVEL_ZH, SCOPE_ZH, STATE_ZH, last_day, level_of
from gate.zones.operations import ZoneError, lift_zone, lock_zone, set_zone_end
from gate.zones.queries import find_place, list_locks
from passes import ZoneScope


@click.group(
    "zones",
    help=(
        "封控区/管控区/防范区：给楼栋、小区或网格设置封控（不得外出）、管控（按规则外出）或"
        "防范（正常）状态及起止日期；封控期间该处所有住户（含豁免户）外出被拒，原因显示"
        "“所在楼栋封控中，不得外出（至 12-14）”；离线扫码机和手机出入口同步后同样判断。\n\n"
        "Lockdown zones: a level over a building, compound or grid, with dates.\n\n\b\n"
        "封控一栋楼：checkpoint zones lock --level 封控 --building 'P1-3' --until 2026-12-14\n"
        "查看：checkpoint zones list\n"
        "解除：checkpoint zones lift --lock 3\n"
        "延期：checkpoint zones extend --lock 3 --until 2026-12-21\n\n"
        "Example: checkpoint zones lock --level sealed --grid G1 --from 2026-12-05"
    ),
)
def zones_group() -> None:
    """Lockdown zone commands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: ZoneError) -> click.ClickException:
    return click.ClickException(translate(exc.message_id, **exc.params))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(
            translate(N_("A date is written like 2026-12-07 (got %(text)s)."), text=text)
        ) from None


def _start(text: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    if text is None:
        return now
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(
            translate(N_("A date is written like 2026-12-07 (got %(text)s)."), text=text)
        ) from None
    return moment.replace(tzinfo=zone).astimezone(UTC) if moment.tzinfo is None else moment


def _through(text: str, zone: ZoneInfo) -> datetime:
    """The end of local day ``text`` (a lock "until 12-14" holds through that day)."""
    day = _day(text) + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


_LOCK_HELP = "锁定编号（zones list 第一列）。Lock number, as zones list shows it."


@zones_group.command(
    "lock",
    help=(
        "设置封控/管控/防范：--building、--compound 或 --grid 三选一（名称或代码；楼栋写"
        "“小区代码-楼栋代码”或“小区名 楼栋名”）；--from 默认现在，--until 为最后一天（含），"
        "不写则直到解除。\n\n\b\n"
        "示例：checkpoint zones lock --level 封控 --building P1-3 --until 2026-12-14 "
        "--reason 发现阳性病例\n"
        "Example: checkpoint zones lock --level controlled --compound 幸福里 --from 2026-12-05"
    ),
)
@community_option
@click.option(
    "--level",
    "level_text",
    required=True,
    help="封控 / 管控 / 防范（sealed / controlled / precaution）。",
)
@click.option("--building", help="楼栋。Building.")
@click.option("--compound", "compound_name", help="小区。Compound.")
@click.option("--grid", help="网格。Grid.")
@click.option("--from", "starts", help="开始（2026-12-05 或 2026-12-05T08:00，本地时间）。Start.")
@click.option("--until", "until", help="最后一天（含），如 2026-12-14；不写：直到解除。Last day.")
@click.option("--reason", help="原因（仅办公室可见）。Reason, kept in the office.")
@actor_option
def lock_command(
    community_code: str | None,
    level_text: str,
    building: str | None,
    compound_name: str | None,
    grid: str | None,
    starts: str | None,
    until: str | None,
    reason: str | None,
    actor: str,
) -> None:
    """Put a level over a place."""
    level = level_of(level_text)
    if level is None:
        raise click.ClickException(
            translate(N_("The level is 封控, 管控 or 防范 (got %(text)s)."), text=level_text)
        )
    given = [
        (scope, name)
        for scope, name in (
            (ZoneScope.BUILDING, building),
            (ZoneScope.COMPOUND, compound_name),
            (ZoneScope.GRID, grid),
        )
        if name
    ]
    if len(given) != 1:
        raise click.ClickException(
            translate(N_("Give exactly one of --building, --compound or --grid."))
        )
    scope, name = given[0]
    now = _now()
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        zone = ZoneInfo(community.timezone)
        place = find_place(job.session, community.id, scope, name)
        if place is None:
            raise click.ClickException(
                translate(
                    N_("There is no %(scope)s %(place)s in this community."),
                    scope=SCOPE_ZH[scope],
                    place=name,
                )
            )
        try:
            record = lock_zone(
                job.session,
                community_id=community.id,
                level=level,
                scope=scope,
                place_id=place,
                starts_at=_start(starts, zone, now),
                ends_at=None if until is None else _through(until, zone),
                reason=reason,
                actor=actor,
            )
        except ZoneError as exc:
            raise _refused(exc) from None
        lock_id, until_text = record.id, last_day(record.ends_at, zone)
    click.echo(
        translate(
            N_("Zone lock %(lock)d: %(place)s is %(level)s until %(until)s."),
            lock=lock_id,
            place=name,
            level=LEVEL_ZH[level],
            until="解除" if until is None else until_text,
        )
    )


@zones_group.command(
    "list",
    help=(
        "列出封控/管控/防范（默认只列未结束的；--all 全部），制表符分隔：编号、级别、范围、"
        "地点、开始、结束、状态、住户数。\n\n\b\n"
        "示例：checkpoint zones list --all\nExample: checkpoint zones list"
    ),
)
@community_option
@click.option(
    "--all", "show_all", is_flag=True, help="连已结束、已取消的也列出。Include ended ones."
)
def list_command(community_code: str | None, show_all: bool) -> None:
    """List locks."""
    now = _now()
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        zone = ZoneInfo(community.timezone)
        rows = list_locks(job.session, community.id, now=now, current_only=not show_all)
    if not rows:
        click.echo(translate(N_("No zone locks.")))
        return
    click.echo("\t".join(("编号", "级别", "范围", "地点", "开始", "最后一天", "状态", "住户数")))
    for row in rows:
        click.echo(
            "\t".join(
                (
                    str(row.id),
                    LEVEL_ZH[row.level],
                    SCOPE_ZH[row.scope],
                    row.place,
                    _local(row.starts_at, zone),
                    last_day(row.ends_at, zone) or "直到解除",
                    STATE_ZH[row.state(now)],
                    str(row.households),
                )
            )
        )


@zones_group.command(
    "lift",
    help=(
        "解除：锁定即刻结束（尚未开始的则取消）。\n\n\b\n"
        "示例：checkpoint zones lift --lock 3\nExample: checkpoint zones lift --lock 3"
    ),
)
@community_option
@click.option("--lock", "lock_id", type=int, required=True, help=_LOCK_HELP)
@actor_option
def lift_command(community_code: str | None, lock_id: int, actor: str) -> None:
    """Lift a lock."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            lift_zone(
                job.session, community_id=community.id, lock_id=lock_id, at=_now(), actor=actor
            )
        except ZoneError as exc:
            raise _refused(exc) from None
    click.echo(translate(N_("Zone lock %(lock)d lifted."), lock=lock_id))


@zones_group.command(
    "extend",
    help=(
        "改结束日期（延期或提前）：--until 最后一天（含），或 --open 直到解除。\n\n\b\n"
        "示例：checkpoint zones extend --lock 3 --until 2026-12-21\n"
        "Example: checkpoint zones extend --lock 3 --open"
    ),
)
@community_option
@click.option("--lock", "lock_id", type=int, required=True, help=_LOCK_HELP)
@click.option("--until", "until", help="新的最后一天（含）。New last day.")
@click.option("--open", "open_ended", is_flag=True, help="直到解除。Until lifted.")
@actor_option
def extend_command(
    community_code: str | None, lock_id: int, until: str | None, open_ended: bool, actor: str
) -> None:
    """Move a lock's end."""
    if (until is None) == (not open_ended):
        raise click.ClickException(translate(N_("Give either --until or --open.")))
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        zone = ZoneInfo(community.timezone)
        try:
            set_zone_end(
                job.session,
                community_id=community.id,
                lock_id=lock_id,
                ends_at=None if until is None else _through(until, zone),
                now=_now(),
                actor=actor,
            )
        except ZoneError as exc:
            raise _refused(exc) from None
    click.echo(
        translate(
            N_("Zone lock %(lock)d now lasts until %(until)s."),
            lock=lock_id,
            until="解除" if until is None else until,
        )
    )
