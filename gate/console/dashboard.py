"""``/``: who is out, who is overdue, today's fevers and refusals, traffic, scanners."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gate.app import services
from gate.community.context import current_rules
from gate.crossings.queries import (
    crossings_per_hour,
    fever_alerts,
    local_day_bounds,
    out_now,
    overdue,
    refused_by_code,
)
from gate.db import transaction
from gate.devices.models import Gate
from gate.web.auth import READ_ROLES, require_role
from passes import Code, reason

from . import console
from .charts import hourly_crossings_svg
from .common import community, lang, now, zone

CHART_DAYS = 7


@console.get("/", endpoint="dashboard")
@require_role(*READ_ROLES)
def dashboard() -> str:
    """The office's overview of the community right now."""
    moment = now()
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        tz = row.timezone
        today = moment.astimezone(zone(row)).date()
        day_start, day_end = local_day_bounds(today, tz)
        rules = current_rules(session, row)
        chart_start, _unused = local_day_bounds(today - timedelta(days=CHART_DAYS - 1), tz)
        hours = crossings_per_hour(session, row.id, chart_start, day_end, tz)
        gates = session.scalars(
            select(Gate)
            .where(Gate.community_id == row.id)
            .options(selectinload(Gate.devices))
            .order_by(Gate.code)
        ).all()
        refused = [
            (code, count, _reason(code))
            for code, count in refused_by_code(session, row.id, day_start, day_end)
        ]
        context = {
            "community": row,
            "now": moment,
            "out_now": out_now(session, row.id, moment),
            "overdue": overdue(session, row.id, moment, rules),
            "max_outside_minutes": rules.max_outside_minutes,
            "fevers": fever_alerts(session, row.id, today, tz),
            "refused": refused,
            "chart": Markup(  # noqa: S704  (built by hourly_crossings_svg, which escapes all text)
                hourly_crossings_svg(
                    hours,
                    title=_("Crossings per hour, last %(days)d days", days=CHART_DAYS),
                    refused_label=_("refused"),
                )
            ),
            "gates": gates,
        }
    return render_template("console/dashboard.html", **context)


def _reason(code: str) -> str:
    try:
        return reason(Code(code), lang())
    except ValueError:
        return code
