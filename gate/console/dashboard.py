"""``/``: who is out, who is overdue, today's fevers and refusals, traffic, scanners."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup

from gate.crossings.dashboard import CHART_DAYS, overview
from gate.web.auth import READ_ROLES, require_role
from passes import Code, reason

from . import console
from .charts import hourly_crossings_svg
from .common import community, db_session, lang, now


@console.get("/", endpoint="dashboard")
@require_role(*READ_ROLES)
def dashboard() -> str:
    """The office's overview of the community right now."""
    moment = now()
    row = community()
    seen = overview(db_session(), row, moment)
    return render_template(
        "console/dashboard.html",
        community=row,
        now=moment,
        out_now=seen.out_now,
        overdue=seen.overdue,
        max_outside_minutes=seen.max_outside_minutes,
        fevers=seen.fevers,
        refused=[(code, count, _reason(code)) for code, count in seen.refused],
        chart=Markup(  # noqa: S704  (built by hourly_crossings_svg, which escapes all text)
            hourly_crossings_svg(
                seen.hours,
                title=_("Crossings per hour, last %(days)d days", days=CHART_DAYS),
                refused_label=_("refused"),
            )
        ),
        gates=seen.gates,
    )


def _reason(code: str) -> str:
    try:
        return reason(Code(code), lang())
    except ValueError:
        return code
