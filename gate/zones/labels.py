"""The Chinese words of zone levels, scopes and lock states (CLI and pages show these, the
database and the exports keep the codes)."""

from __future__ import annotations

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


def level_of(text: str) -> ZoneLevel | None:
    """The level a user typed: its code (``sealed``) or its Chinese word (``封控``)."""
    wanted = text.strip()
    for level, word in LEVEL_ZH.items():
        if wanted in {level.value, word, f"{word}区"}:
            return level
    return None
