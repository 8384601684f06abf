"""Display formats for templates: local times, temperatures, durations.

Registered as Jinja filters by :func:`configure_formatting`:

- ``{{ crossing.scanned_at|localtime }}``: aware UTC -> the community's local
  ``YYYY-MM-DD HH:MM`` (``localtime('%H:%M')`` for another format); None -> "".
- ``{{ crossing.temperature_tenths|tenths }}``: 365 -> ``36.5``; None -> "".
- ``{{ overdue_by|duration }}``: timedelta -> ``2小时5分`` / ``2 h 5 min``.
- ``{{ household.quarantine_until|lastday }}``: the end of a period (the local midnight after
  its last day) -> that last day, ``YYYY-MM-DD``, as entered and as the gate shows it.

The ``format_*`` functions take the zone or language explicitly and need no request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import get_timezone

from passes import RuleSet, last_day_covered

LOCAL_FORMAT = "%Y-%m-%d %H:%M"


def configure_formatting(app: Flask) -> None:
    """Register the display filters on the app's Jinja environment."""
    from gate.web.labels import configure_labels  # the code -> label filters

    configure_labels(app)
    app.jinja_env.filters.update(
        localtime=localtime, tenths=tenths, duration=duration, lastday=lastday
    )


def format_localtime(value: datetime | None, zone: ZoneInfo, fmt: str = LOCAL_FORMAT) -> str:
    """``value`` (aware) as wall-clock time in ``zone``; naive datetimes are refused."""
    if value is None:
        return ""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: the server stores aware UTC")
    return value.astimezone(zone).strftime(fmt)


def localtime(value: datetime | None, fmt: str = LOCAL_FORMAT) -> str:
    """Jinja filter: ``value`` in the request's zone (the user's community's)."""
    zone = get_timezone()
    return format_localtime(value, ZoneInfo(str(zone)), fmt)


def format_last_day(value: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d") -> str:
    """The last local day a period ending at ``value`` covers: a quarantine "through 12-10"
    ends at the local midnight starting 12-11 and reads "2026-12-10" (None -> "")."""
    if value is None:
        return ""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: the server stores aware UTC")
    return last_day_covered(value, RuleSet(timezone=zone.key)).strftime(fmt)


def lastday(value: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    """Jinja filter: :func:`format_last_day` in the request's zone."""
    return format_last_day(value, ZoneInfo(str(get_timezone())), fmt)


def tenths(value: int | None) -> str:
    """Integer tenths of a degree as a decimal: 365 -> "36.5", -5 -> "-0.5"."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    whole, tenth = divmod(abs(int(value)), 10)
    return f"{sign}{whole}.{tenth}"


def format_duration(value: timedelta | None, *, chinese: bool) -> str:
    """Hours and minutes (rounded down): "2小时5分" / "2 h 5 min"; under an hour "5分" / "5 min"."""
    if value is None:
        return ""
    total_minutes = int(abs(value).total_seconds() // 60)
    hours, minutes = divmod(total_minutes, 60)
    sign = "-" if value < timedelta(0) and total_minutes else ""
    if chinese:
        text = f"{hours}小时{minutes}分" if hours and minutes else ""
        text = text or (f"{hours}小时" if hours else f"{minutes}分")
    elif hours:
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        text = f"{minutes} min"
    return sign + text


def duration(value: timedelta | None) -> str:
    """Jinja filter: :func:`format_duration` in the request's language."""
    from gate.web.i18n import is_chinese

    return format_duration(value, chinese=is_chinese())
