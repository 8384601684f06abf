"""``checkpoint crossings``: export the crossing log to CSV or XLSX."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.cli.audit import open_sessions, resolve_community


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
        "name masked. --unmasked shows full names and needs an admin account (--as-admin); "
        "every export is written to the audit log.\n\n"
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
@click.option("--community", "community_id", type=int, help="Default: the only community.")
def export_command(
    from_day: datetime,
    to_day: datetime,
    gate_code: str | None,
    household_code: str | None,
    fmt: str,
    out_path: Path,
    unmasked: bool,
    admin_username: str | None,
    community_id: int | None,
) -> None:
    """Export crossings."""
    from gate.db import transaction

    if to_day < from_day:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if unmasked and not admin_username:
        raise click.UsageError("--unmasked needs --as-admin USERNAME (an admin account)")
    with open_sessions() as sessions:
        with transaction(sessions, read_only=True) as session:
            job = _prepare(
                session,
                community_id,
                from_day.date(),
                to_day.date(),
                gate_code,
                household_code,
                admin_username,
                unmasked=unmasked,
            )
            written = _run_export(session, job, fmt, out_path, unmasked)
        with transaction(sessions) as session:
            _audit(session, job, fmt, out_path, written, unmasked)
    click.echo(f"{written} crossings written to {out_path}")


@dataclass(frozen=True)
class _Job:
    """What to export, resolved from the command line."""

    community_id: int
    timezone: str
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    gate_id: int | None
    gate_code: str | None
    household_id: int | None
    household_code: str | None
    user_id: int | None
    username: str | None


def _prepare(
    session: Session,
    community_id: int | None,
    first_day: date,
    last_day: date,
    gate_code: str | None,
    household_code: str | None,
    admin_username: str | None,
    *,
    unmasked: bool,
) -> _Job:
    from gate.accounts.models import Role, User
    from gate.community.models import Community
    from gate.devices.models import Gate
    from gate.households.models import Household

    community_id = resolve_community(session, community_id)
    community = session.get(Community, community_id)
    assert community is not None  # resolve_community checked it
    user = None
    if admin_username:
        user = session.scalar(select(User).where(User.username == admin_username))
        if user is None or user.disabled_at is not None or user.community_id != community_id:
            raise click.ClickException(f"no active user {admin_username!r} in this community")
        if unmasked and user.role is not Role.ADMIN:
            raise click.ClickException(f"{admin_username} is not an admin: --unmasked refused")
    gate_id = household_id = None
    if gate_code:
        gate_id = session.scalar(
            select(Gate.id).where(Gate.community_id == community_id, Gate.code == gate_code)
        )
        if gate_id is None:
            raise click.ClickException(f"no gate with code {gate_code!r}")
    if household_code:
        household_id = session.scalar(
            select(Household.id).where(
                Household.community_id == community_id, Household.code == household_code
            )
        )
        if household_id is None:
            raise click.ClickException(f"no household with code {household_code!r}")
    zone = ZoneInfo(community.timezone)
    return _Job(
        community_id=community_id,
        timezone=community.timezone,
        start=datetime.combine(first_day, time(0), tzinfo=zone).astimezone(UTC),
        end=datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC),
        first_day=first_day,
        last_day=last_day,
        gate_id=gate_id,
        gate_code=gate_code,
        household_id=household_id,
        household_code=household_code,
        user_id=None if user is None else user.id,
        username=None if user is None else user.username,
    )


def _run_export(session: Session, job: _Job, fmt: str, out_path: Path, unmasked: bool) -> int:
    from gate.crossings.export import count_crossings, export_crossings

    total = count_crossings(
        session,
        community_id=job.community_id,
        start=job.start,
        end=job.end,
        gate_id=job.gate_id,
        household_id=job.household_id,
    )
    click.echo(f"exporting {total} crossings…", err=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            partial.open("wb") as out,
            click.progressbar(length=total, label="导出", file=sys.stderr) as bar,
        ):
            done = [0]

            def advance(rows: int) -> None:
                bar.update(rows - done[0])
                done[0] = rows

            written = export_crossings(
                session,
                community_id=job.community_id,
                start=job.start,
                end=job.end,
                gate_id=job.gate_id,
                household_id=job.household_id,
                fmt="csv" if fmt == "csv" else "xlsx",
                out=out,
                unmasked=unmasked,
                timezone=job.timezone,
                on_progress=advance,
            )
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave half a file (with names) behind
        raise
    return written


def _audit(
    session: Session, job: _Job, fmt: str, out_path: Path, written: int, unmasked: bool
) -> None:
    from gate.audit.operations import record_event

    record_event(
        session,
        actor=f"cli:{job.username}" if job.username else "cli",
        action="crossings.export_unmasked" if unmasked else "crossings.export",
        community_id=job.community_id,
        user_id=job.user_id,
        subject_type="community",
        subject_id=job.community_id,
        details={
            "from": job.first_day.isoformat(),
            "to": job.last_day.isoformat(),
            "gate": job.gate_code,
            "household": job.household_code,
            "format": fmt,
            "rows": written,
            "file": out_path.name,
        },
    )
