"""``checkpoint visitors``: visitor passes (访客通行证) and the walk-ins registered at the gate."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errors import N_
from gate.households.fields import mask_name, mask_phone
from gate.visitors.fields import VisitorError
from gate.visitors.issuing import (
    VisitorRequest,
    find_visitor_pass,
    issue_visitor_pass,
    revoke_visitor_pass,
    short_id,
    shown_visitor_pass,
    visitor_passes,
)
from gate.visitors.queries import pass_state, walk_in_rows
from passes import render_png

KIND_LABELS = {
    "visitor": "访客",
    "delivery": "快递/外卖",
    "medical": "医护",
    "official": "公务",
    "other": "其他",
}
STATE_LABELS = {
    "pending": "未生效",
    "active": "有效",
    "used": "已使用",
    "expired": "已过期",
    "revoked": "已作废",
}
OUTCOME_LABELS = {"turned_back": "劝返", "handed_over": "门口交接"}


@click.group(
    "visitors",
    help=(
        "访客与无证人员：办公室预先审批访客，发放签名的访客通行证（二维码，可打印、可发送），\n"
        "出入口扫码判定（一次性或限时，离线可验）；出入口登记的无证人员（劝返）与快递交接。\n\n\b\n"
        "发放：checkpoint visitors issue --name 王五 --purpose 探望老人 --out 访客证.png\n"
        "查看：checkpoint visitors list\n"
        "作废：checkpoint visitors revoke --number 1A2B3C4D --reason 取消来访\n"
        "无证人员登记：checkpoint visitors walk-ins --days 7\n\n"
        "Visitor passes and people without a pass registered at the gate."
    ),
)
def visitors_group() -> None:
    """Visitor commands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: VisitorError) -> click.ClickException:
    return click.ClickException(translate(exc.message_id, **exc.params))


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _write_png(text: str, out_path: Path) -> None:
    """The pass's QR as a PNG, written atomically (nothing left behind on failure)."""
    directory = out_path.resolve().parent
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".visitor-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(render_png(text))
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_OUT = click.Path(dir_okay=False, path_type=Path)


@visitors_group.command(
    "issue",
    help=(
        "发放访客通行证：类别、姓名、来访事由必填；手机号（显示时打码）、车牌、被访人可选。\n"
        "默认一次性（首次进入即失效），--multi 为有效期内可多次进出。\n\n\b\n"
        "示例：checkpoint visitors issue --kind visitor --name 王五 --purpose 探望老人 \\\n"
        "        --phone 13812345678 --from '2026-12-05 09:00' --hours 8 --out 访客证.png\n"
        "Issue a signed visitor pass (single use unless --multi)."
    ),
)
@community_option
@click.option(
    "--kind",
    type=click.Choice(KIND_LABELS),
    default="visitor",
    show_default=True,
    help="类别：visitor 访客, delivery 快递/外卖, medical 医护, official 公务, other 其他",
)
@click.option("--name", required=True, help="访客姓名")
@click.option("--purpose", required=True, help="来访事由")
@click.option("--phone", help="手机号（存储以便回电，显示时打码）")
@click.option("--plate", help="车牌号，如 鲁E12345")
@click.option("--host", help="被访住户或联系人")
@click.option("--from", "start", help="生效时间（小区时区，YYYY-MM-DD HH:MM），默认现在")
@click.option("--hours", type=int, default=8, show_default=True, help="有效小时数（最长 31 天）")
@click.option("--multi", is_flag=True, help="有效期内可多次进出（默认一次性）")
@click.option("--out", "out_path", type=_OUT, help="把二维码写入 PNG 文件")
@actor_option
def issue_command(
    community_code: str | None,
    kind: str,
    name: str,
    purpose: str,
    phone: str | None,
    plate: str | None,
    host: str | None,
    start: str | None,
    hours: int,
    multi: bool,
    out_path: Path | None,
    actor: str,
) -> None:
    """Issue a visitor pass."""
    now = _now()
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        valid_from = now if start is None else _parse_local(start, community.timezone)
        if not 1 <= hours <= 31 * 24:
            raise _refused(VisitorError("bad_window", days=31))
        request = VisitorRequest(
            kind=kind,
            name=name,
            purpose=purpose,
            valid_from=valid_from,
            valid_until=valid_from + timedelta(hours=hours),
            single_use=not multi,
            phone=phone,
            plate=plate,
            host=host,
        )
        try:
            issued = issue_visitor_pass(
                job.session, community_id=community.id, request=request, actor=actor, now=now
            )
        except VisitorError as exc:
            raise _refused(exc) from None
        record = issued.record
        if out_path is not None:
            _write_png(issued.text, out_path)
        number = short_id(record.pass_id)
        window = (
            f"{_local(record.valid_from, community.timezone)} 至 "
            f"{_local(record.valid_until, community.timezone)}"
        )
    uses = "多次" if multi else "一次性"
    click.echo(
        f"访客通行证 {number} 已发放：{mask_name(name)}，{KIND_LABELS[kind]}，{uses}，{window}"
    )
    if record.phone:
        click.echo(f"手机：{mask_phone(record.phone)}")
    click.echo(issued.text)
    if out_path is not None:
        click.echo(translate(N_("Card written to %(path)s."), path=str(out_path)))


def _parse_local(text: str, timezone: str) -> datetime:
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(
            tzinfo=ZoneInfo(timezone)
        )
    except ValueError:
        raise click.ClickException(f"时间格式应为 YYYY-MM-DD HH:MM，而不是 {text!r}") from None
    return moment.astimezone(UTC)


@visitors_group.command(
    "list",
    help=(
        "列出访客通行证：编号、类别、姓名（打码）、手机（打码）、有效期、状态。\n\n\b\n"
        "示例：checkpoint visitors list\nList the community's visitor passes."
    ),
)
@community_option
def list_command(community_code: str | None) -> None:
    """List visitor passes."""
    now = _now()
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        rows = visitor_passes(job.session, community.id)
        for record in rows:
            click.echo(
                "\t".join(
                    [
                        short_id(record.pass_id),
                        KIND_LABELS.get(record.kind, record.kind),
                        mask_name(record.name),
                        mask_phone(record.phone) or "-",
                        record.plate or "-",
                        _local(record.valid_from, community.timezone),
                        _local(record.valid_until, community.timezone),
                        "一次性" if record.single_use else "多次",
                        STATE_LABELS[pass_state(record, now)],
                    ]
                )
            )
        if not rows:
            click.echo("还没有访客通行证。")


@visitors_group.command(
    "print",
    help=(
        "重新输出一张访客通行证的二维码（同一张证）为 PNG，可打印或发送给访客。\n\n\b\n"
        "示例：checkpoint visitors print --number 1A2B3C4D --out 访客证.png\n"
        "Write a visitor pass's QR again."
    ),
)
@community_option
@click.option("--number", required=True, help="通行证编号（前 8 位）")
@click.option("--out", "out_path", type=_OUT, required=True, help="PNG 文件")
@actor_option
def print_command(community_code: str | None, number: str, out_path: Path, actor: str) -> None:
    """Print a visitor pass."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            record = find_visitor_pass(job.session, community.id, number)
            text = shown_visitor_pass(job.session, record, actor=actor, medium="png")
        except VisitorError as exc:
            raise _refused(exc) from None
        _write_png(text, out_path)
    click.echo(translate(N_("Card written to %(path)s."), path=str(out_path)))


@visitors_group.command(
    "revoke",
    help=(
        "作废访客通行证：联网出入口立即拒绝。\n\n\b\n"
        "示例：checkpoint visitors revoke --number 1A2B3C4D --reason 取消来访\n"
        "Revoke a visitor pass."
    ),
)
@community_option
@click.option("--number", required=True, help="通行证编号（前 8 位）")
@click.option("--reason", required=True, help="作废原因（记入审计日志）")
@actor_option
def revoke_command(community_code: str | None, number: str, reason: str, actor: str) -> None:
    """Revoke a visitor pass."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            record = revoke_visitor_pass(
                job.session,
                community_id=community.id,
                number=number,
                reason=reason,
                actor=actor,
                now=_now(),
            )
        except VisitorError as exc:
            raise _refused(exc) from None
        shown = short_id(record.pass_id)
    click.echo(f"访客通行证 {shown} 已作废。")


@visitors_group.command(
    "walk-ins",
    help=(
        "列出出入口登记的无证人员：时间、出入口、类别、处理（劝返/门口交接）、车牌、手机（打码）、事由。\n\n\b\n"
        "示例：checkpoint visitors walk-ins --days 7\nList the walk-ins registered at the gates."
    ),
)
@community_option
@click.option("--days", type=click.IntRange(1, 400), default=7, show_default=True, help="最近几天")
def walk_ins_command(community_code: str | None, days: int) -> None:
    """List walk-ins."""
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        rows = walk_in_rows(job.session, community.id, since=_now() - timedelta(days=days))
        for row in rows:
            click.echo(
                "\t".join(
                    [
                        _local(row.registered_at, community.timezone),
                        row.gate_name,
                        KIND_LABELS.get(row.kind, row.kind),
                        OUTCOME_LABELS.get(row.outcome, row.outcome),
                        row.plate or "-",
                        row.phone_masked or "-",
                        row.purpose or "-",
                    ]
                )
            )
        if not rows:
            click.echo("这段时间没有无证人员登记。")
