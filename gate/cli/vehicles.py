"""``checkpoint vehicles``: residents' cars, their vehicle passes (车辆通行证) and plates."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errors import N_
from gate.unit_of_work import DbSession
from gate.vehicles.errors import PLATE_MESSAGES, VehicleError
from gate.vehicles.issuing import (
    DEFAULT_VALID_DAYS,
    issue_vehicle_pass,
    pass_in_force,
    revoke_vehicle_pass,
    short_id,
    windscreen_file,
)
from gate.vehicles.models import VehiclePassRecord
from gate.vehicles.registry import add_vehicle, remove_vehicle, vehicle_rows
from passes.plates import PlateError, parse_plate

KIND_LABELS = {
    "ordinary": "普通",
    "new_energy": "新能源",
    "police": "警用",
    "learner": "教练",
    "trailer": "挂车",
    "consulate": "领馆",
    "hong_kong": "粤港",
    "macau": "粤澳",
    "embassy": "使馆",
}
"""The plate forms (:mod:`passes.plates`) as a clerk reads them."""


@click.group(
    "vehicles",
    help=(
        "车辆管理：登记住户车辆（车牌 + 住户），发放车辆通行证（挡风玻璃卡，带签名二维码），\n"
        "出入口扫码或键入车牌判定并记入通行记录；外地车牌按小区规则拒绝或登记放行。\n\n\b\n"
        "登记车辆：checkpoint vehicles add --household 1-2-301 --plate 鲁E12345\n"
        "发放通行证：checkpoint vehicles issue --plate 鲁E12345 --out 车辆证.pdf\n"
        "查看：checkpoint vehicles list\n"
        "作废通行证：checkpoint vehicles revoke --plate 鲁E12345 --reason 遗失\n"
        "注销车辆：checkpoint vehicles remove --plate 鲁E12345 --reason 已售出\n"
        "核对车牌：checkpoint vehicles check 鲁ED12345\n\n"
        "Residents' cars, vehicle passes (windscreen cards) and plate checks."
    ),
)
def vehicles_group() -> None:
    """Vehicle commands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: VehicleError) -> click.ClickException:
    return click.ClickException(translate(exc.message_id, **exc.params))


def _write(session: DbSession, record: VehiclePassRecord, out_path: Path, *, actor: str) -> None:
    """Render the windscreen card to ``out_path`` (PDF for ``.pdf``, else PNG), audited."""
    data = windscreen_file(session, record, pdf=out_path.suffix.lower() == ".pdf", actor=actor)
    # Written before the job commits: a file that cannot be written leaves no event.
    handle, temporary = tempfile.mkstemp(
        dir=out_path.resolve().parent, prefix=".card-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_PLATE = click.option("--plate", required=True, help="车牌号，如 鲁E12345、鲁ED12345（新能源）。")
_OUT = click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="把挡风玻璃卡写入此文件：.pdf（A5，矢量二维码）或 .png。",
)
_DAYS = click.option(
    "--days",
    "valid_days",
    type=int,
    default=DEFAULT_VALID_DAYS,
    show_default=True,
    help="通行证有效天数（1-400）。",
)


@vehicles_group.command(
    "add",
    help=(
        "登记一辆住户车辆（车牌自动规范：全角、小写、空格均可）。\n"
        "加 --issue 同时发放通行证。\n\n\b\n"
        "示例：checkpoint vehicles add --household 1-2-301 --plate 鲁E12345 --note 白色轿车\n"
        "Example: checkpoint vehicles add --household 1-2-301 --plate 鲁ED12345 --issue"
    ),
)
@community_option
@click.option("--household", "household_code", required=True, help="住户编号，如 1-2-301。")
@_PLATE
@click.option("--note", default="", help="备注，便于核对（如 白色轿车），最多 64 字。")
@click.option("--issue", "issue", is_flag=True, help="同时发放车辆通行证。")
@_DAYS
@_OUT
@actor_option
def add_command(
    community_code: str | None,
    household_code: str,
    plate: str,
    note: str,
    issue: bool,
    valid_days: int,
    out_path: Path | None,
    actor: str,
) -> None:
    """Register a car."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        now = _now()
        try:
            vehicle = add_vehicle(
                job.session,
                community_id=community.id,
                household_code=household_code,
                plate=plate,
                note=note,
                actor=actor,
                now=now,
            )
            issued = None
            if issue or out_path is not None:
                issued = issue_vehicle_pass(
                    job.session,
                    community_id=community.id,
                    plate=vehicle.plate,
                    valid_days=valid_days,
                    actor=actor,
                    now=now,
                )
                if out_path is not None:
                    _write(job.session, issued.record, out_path, actor=actor)
        except VehicleError as exc:
            raise _refused(exc) from None
        plate_text = vehicle.plate
    click.echo(
        translate(
            N_("Vehicle %(plate)s registered for household %(household)s."),
            plate=plate_text,
            household=household_code.strip(),
        )
    )
    if issued is not None:
        _echo_issued(issued.record, out_path)


def _echo_issued(record: VehiclePassRecord, out_path: Path | None) -> None:
    click.echo(
        translate(
            N_("Vehicle pass %(number)s for %(plate)s, valid until %(until)s."),
            number=short_id(record.pass_id),
            plate=record.plate,
            until=record.valid_until.date().isoformat(),
        )
    )
    if out_path is not None:
        click.echo(translate(N_("Card written to %(path)s."), path=str(out_path)))


@vehicles_group.command(
    "issue",
    help=(
        "为已登记车辆发放（或补发）车辆通行证；补发时原通行证自动作废。\n\n\b\n"
        "示例：checkpoint vehicles issue --plate 鲁E12345 --days 90 --out 车辆证.pdf\n"
        "Example: checkpoint vehicles issue --plate 鲁E12345 --out card.png"
    ),
)
@community_option
@_PLATE
@_DAYS
@_OUT
@actor_option
def issue_command(
    community_code: str | None, plate: str, valid_days: int, out_path: Path | None, actor: str
) -> None:
    """Issue a vehicle pass."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            issued = issue_vehicle_pass(
                job.session,
                community_id=community.id,
                plate=plate,
                valid_days=valid_days,
                actor=actor,
                now=_now(),
            )
            if out_path is not None:
                _write(job.session, issued.record, out_path, actor=actor)
        except VehicleError as exc:
            raise _refused(exc) from None
        _echo_issued(issued.record, out_path)


@vehicles_group.command(
    "card",
    help=(
        "重新打印车辆的有效通行证（挡风玻璃卡）。\n\n\b\n"
        "示例：checkpoint vehicles card --plate 鲁E12345 --out 车辆证.pdf\n"
        "Example: checkpoint vehicles card --plate 鲁E12345 --out card.pdf"
    ),
)
@community_option
@_PLATE
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出文件：.pdf（A5，矢量二维码）或 .png。",
)
@actor_option
def card_command(community_code: str | None, plate: str, out_path: Path, actor: str) -> None:
    """Print a windscreen card."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            record = pass_in_force(job.session, community.id, plate)
            _write(job.session, record, out_path, actor=actor)
        except VehicleError as exc:
            raise _refused(exc) from None
    click.echo(translate(N_("Card written to %(path)s."), path=str(out_path)))


@vehicles_group.command(
    "revoke",
    help=(
        "作废车辆的有效通行证（联网出入口立即生效，离线设备下次同步后生效）。\n\n\b\n"
        "示例：checkpoint vehicles revoke --plate 鲁E12345 --reason 遗失\n"
        "Example: checkpoint vehicles revoke --plate 鲁E12345 --reason lost"
    ),
)
@community_option
@_PLATE
@click.option("--reason", required=True, help="作废原因。")
@actor_option
def revoke_command(community_code: str | None, plate: str, reason: str, actor: str) -> None:
    """Revoke a vehicle pass."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            record = revoke_vehicle_pass(
                job.session,
                community_id=community.id,
                plate=plate,
                reason=reason,
                actor=actor,
                now=_now(),
            )
        except VehicleError as exc:
            raise _refused(exc) from None
        number = short_id(record.pass_id)
        plate_text = record.plate
    click.echo(
        translate(
            N_("Vehicle pass %(number)s of %(plate)s revoked."), number=number, plate=plate_text
        )
    )


@vehicles_group.command(
    "remove",
    help=(
        "注销一辆已登记车辆（其有效通行证一并作废；通行记录保留）。\n\n\b\n"
        "示例：checkpoint vehicles remove --plate 鲁E12345 --reason 已售出\n"
        "Example: checkpoint vehicles remove --plate 鲁E12345 --reason sold"
    ),
)
@community_option
@_PLATE
@click.option("--reason", required=True, help="注销原因。")
@actor_option
def remove_command(community_code: str | None, plate: str, reason: str, actor: str) -> None:
    """Remove a car."""
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            vehicle = remove_vehicle(
                job.session,
                community_id=community.id,
                plate=plate,
                reason=reason,
                actor=actor,
                now=_now(),
            )
        except VehicleError as exc:
            raise _refused(exc) from None
        plate_text = vehicle.plate
    click.echo(translate(N_("Vehicle %(plate)s removed."), plate=plate_text))


@vehicles_group.command(
    "list",
    help=(
        "列出已登记车辆：车牌、类型、住户、通行证号与有效期。\n\n\b\n"
        "示例：checkpoint vehicles list --household 1-2-301\n"
        "Example: checkpoint vehicles list"
    ),
)
@community_option
@click.option("--household", "household_code", default=None, help="只列出此住户的车辆。")
def list_command(community_code: str | None, household_code: str | None) -> None:
    """List cars."""
    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        rows = vehicle_rows(job.session, community.id)
        if household_code is not None:
            wanted = household_code.strip().upper()
            rows = [row for row in rows if row.household_code.upper() == wanted]
        if not rows:
            click.echo(translate(N_("No vehicles registered.")))
            return
        click.echo("车牌\t类型\t住户\t通行证\t有效期至\t备注")
        for row in rows:
            record = row.pass_in_force
            number = "-" if record is None else short_id(record.pass_id)
            until = "-" if record is None else record.valid_until.date().isoformat()
            kind = KIND_LABELS.get(row.vehicle.kind, row.vehicle.kind)
            click.echo(
                f"{row.vehicle.plate}\t{kind}\t{row.household_code}\t{number}\t{until}\t"
                f"{row.vehicle.note}"
            )


@vehicles_group.command(
    "check",
    help=(
        "核对车牌号格式（含新能源 8 位车牌、使/领/警/学/挂/港/澳车牌），打印规范写法与类型；\n"
        "格式不对时说明原因并以非零状态退出。\n\n\b\n"
        "示例：checkpoint vehicles check '鲁e d12345'\n"
        "Example: checkpoint vehicles check 使014578"
    ),
)
@click.argument("plate")
def check_command(plate: str) -> None:
    """Check a plate's form."""
    try:
        checked = parse_plate(plate)
    except PlateError as exc:
        raise click.ClickException(translate(PLATE_MESSAGES[exc.code.value])) from None
    click.echo(f"{checked.text}\t{KIND_LABELS[checked.kind]}")
