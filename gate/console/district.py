"""``/district``: the district overview for an account of several communities (a street
office, an inspector, an administrator of several): one row per community with who is out,
overdue, today's fevers and refusals, scanners offline and the age of their offline data,
and buttons that open the community (the header's switcher, preset).

Read-only; the numbers are :mod:`gate.district.overview`'s.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user

from gate.accounts.memberships import DISTRICT_ROLES
from gate.district.overview import district_overview
from gate.web.auth import require_role

from . import console
from .common import db_session, now
from .dashboard import REFRESH_SECONDS


@console.get("/district", endpoint="district")
@require_role(*DISTRICT_ROLES)
def district() -> Any:
    """Every community the account may open, side by side."""
    moment = now()
    accesses = {access.community_id: access for access in current_user.communities}
    rows = district_overview(db_session(), accesses, moment)
    return render_template(
        "console/district.html",
        rows=rows,
        accesses=accesses,
        now=moment,
        refresh_seconds=REFRESH_SECONDS,
        totals={
            "out_now": sum(row.out_now for row in rows),
            "overdue": sum(row.overdue for row in rows),
            "fevers_today": sum(row.fevers_today for row in rows),
            "refusals_today": sum(row.refusals_today for row in rows),
            "devices_offline": sum(row.devices_offline for row in rows),
        },
    )
