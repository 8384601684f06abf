"""``/``: who is out, who is overdue, today's fevers and refusals, traffic, scanners."""

from __future__ import annotations

from datetime import datetime

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from markupsafe import Markup

from gate.accounts.memberships import community_member
from gate.crossings.dashboard import CHART_DAYS, OFFLINE_AFTER, device_state, overview
from gate.devices.models import Device
from gate.devices.phones import PhoneSeen, phone_state, phones_by_gate
from gate.roster.queries import community_zone, day_span, shifts_between
from gate.web.auth import READ_ROLES, current_community_id, require_role
from passes import Code, reason

from . import console
from .charts import hourly_crossings_svg
from .common import community, db_session, lang, now
from .roster import roster_gaps
from .visitors import outsiders_today

REFRESH_SECONDS = 60
"""The overview reloads itself this often (static/js/refresh.js keeps the scroll position)."""

DEVICE_BADGES: dict[str, tuple[str, LazyString]] = {
    "revoked": ("badge-bad", _l("Revoked")),
    "not_enrolled": ("badge-warn", _l("Not enrolled yet")),
    "never_connected": ("badge-warn", _l("Never connected")),
    "offline": ("badge-bad", _l("Offline")),
    "behind": ("badge-warn", _l("Behind")),
    "normal": ("badge-ok", _l("Normal")),
}
"""Each of :data:`gate.crossings.dashboard.DEVICE_STATES` as (badge class, label)."""


PHONE_BADGES: dict[str, tuple[str, LazyString]] = {
    "unsent": ("badge-bad", _l("Unsent crossings")),
    "offline": DEVICE_BADGES["offline"],
    "normal": DEVICE_BADGES["normal"],
}
"""Each of :data:`gate.devices.phones.PHONE_STATES` as (badge class, label)."""


def phone_badge(phone: PhoneSeen, moment: datetime) -> tuple[str, str, str]:
    """``phone``'s state at ``moment``: the code, its badge class and label (UI language)."""
    state = phone_state(phone, moment, offline_after=OFFLINE_AFTER)
    css, label = PHONE_BADGES[state]
    return state, css, str(label)


def phone_gates(moment: datetime) -> tuple[dict[int, list[PhoneSeen]], dict[int, str]]:
    """The community's phone gates by gate id, and the display name of each one's volunteer."""
    community_id = current_community_id()
    phones = phones_by_gate(db_session(), community_id, moment)
    names: dict[int, str] = {}
    for user_id in {phone.user_id for listed in phones.values() for phone in listed}:
        member = community_member(db_session(), community_id, user_id)
        names[user_id] = member.user.display_name if member is not None else "—"
    return phones, names


def device_badge(device: Device, moment: datetime) -> tuple[str, str, str]:
    """``device``'s state at ``moment``: the code, its badge class and label (UI language)."""
    state = device_state(device, moment)
    css, label = DEVICE_BADGES[state]
    return state, css, str(label)


@console.get("/", endpoint="dashboard")
@require_role(*READ_ROLES)
def dashboard() -> str:
    """The office's overview of the community right now."""
    moment = now()
    row = community()
    seen = overview(db_session(), row, moment)
    phones, volunteers = phone_gates(moment)
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
        device_badge=device_badge,
        phones=phones,
        volunteers=volunteers,
        phone_badge=phone_badge,
        refresh_seconds=REFRESH_SECONDS,
        shifts_today=shifts_today(row.id, moment),
        **roster_gaps(row, moment),
        **outsiders_today(row, moment),
    )


def shifts_today(community_id: int, moment: datetime) -> int:
    """How many shifts are planned on the community's local day of ``moment`` (none planned
    is not "every shift has its people")."""
    session = db_session()
    zone = community_zone(session, community_id)
    start, end = day_span(moment.astimezone(zone).date(), zone)
    return len(shifts_between(session, community_id, start, end))


def _reason(code: str) -> str:
    try:
        return reason(Code(code), lang())
    except ValueError:
        return code
