"""The Chinese words of zone levels, scopes and lock states (CLI and pages show these, the
database and the exports keep the codes)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from passes import ZoneLevel, ZoneScope

LEVEL_ZH: dict[ZoneLevel, str] = {
    ZoneLevel.SEALED: "封控",
    ZoneLevel.CONTROLLED: "管控",
    ZoneLevel.PRECAUTION: "防范",
}
SCOPE_ZH: dict[ZoneScope, str] = {
    ZoneScope.BUILDING: "楼栋",
    ZoneScope.COMPOUND: "小区",
    ZoneScope.GRID: "网格",
}
STATE_ZH: dict[str, str] = {
    "upcoming": "未开始",
    "in_force": "生效中",
    "ended": "已结束",
    "cancelled": "已取消",
}


def last_day(ends_at: datetime | None, zone: ZoneInfo) -> str:
    """How a lock's end reads: the last day it covers (``2026-12-14``) when it ends at a local
    midnight (a lock "until 12-14" ends as 12-15 begins), else the local time it ends at;
    "" when it has no end."""
    if ends_at is None:
        return ""
    local = ends_at.astimezone(zone)
    if local.time() == time(0):
        return (local.date() - timedelta(days=1)).isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


def level_of(text: str) -> ZoneLevel | None:
    """The level a user typed: its code (``sealed``) or its Chinese word (``封控``)."""
    wanted = text.strip()
    for level, word in LEVEL_ZH.items():
        if wanted in {level.value, word, f"{word}区"}:
            return level
    return None
