"""What the device knows about itself: journal counts and dead letters, bundle age, the clock
(offset to the server, its high-water mark and whether it is sane), last sync.

Read-only: :func:`collect_status` queries the journal, :func:`format_status` renders the
report for a terminal (zh or en), :func:`banner_text` the gate screen's status strip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from passes import format_utc
from scanner.bundle import Bundle, load_bundle
from scanner.clock import ClockCheck, check_static, read_mark
from scanner.device import DeviceConfig
from scanner.journal import CrossingState, Journal, JournalRow
from scanner.sync import LAST_BUNDLE_KEY, LAST_SYNC_KEY, OFFSET_KEY


@dataclass(frozen=True)
class StatusReport:
    """A snapshot of the device's state; ``degraded`` means the bundle is older than allowed."""

    device: DeviceConfig | None
    counts: dict[CrossingState, int]
    bundle_version: str | None
    bundle_age: timedelta | None
    degraded: bool
    clock_offset_s: float | None
    last_sync: dict[str, Any] | None
    last_bundle_refresh: dict[str, Any] | None
    dead: list[JournalRow]
    clock: ClockCheck | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (no token, no pass texts)."""
        return {
            "device_id": None if self.device is None else self.device.device_id,
            "server": None if self.device is None else self.device.server,
            "counts": self.counts,
            "bundle_version": self.bundle_version,
            "bundle_age_s": None if self.bundle_age is None else self.bundle_age.total_seconds(),
            "degraded": self.degraded,
            "clock_offset_s": self.clock_offset_s,
            "last_sync": self.last_sync,
            "last_bundle_refresh": self.last_bundle_refresh,
            "clock": None
            if self.clock is None
            else {
                "ok": self.clock.ok,
                "problem": self.clock.problem,
                "now": format_utc(self.clock.now),
                "mark": format_utc(self.clock.mark),
            },
            "dead_letters": self.counts["dead"],
            "dead": [
                {
                    "id": row.entry.id,
                    "scanned_at": row.entry.scanned_at.isoformat(),
                    "error": row.error,
                }
                for row in self.dead
            ],
        }


def collect_status(
    journal: Journal, device: DeviceConfig | None, *, now: datetime, max_bundle_age: timedelta
) -> StatusReport:
    """Gather the report; ``now`` is the offset-corrected clock."""
    bundle = load_bundle(journal)
    age = None if bundle is None else bundle.age(now)
    offset = journal.get_meta(OFFSET_KEY)
    clock = check_static(
        now,
        read_mark(journal),
        None if bundle is None else bundle.generated_at,
        max_jump=max_bundle_age,
    )
    return StatusReport(
        device=device,
        counts=journal.counts(),
        bundle_version=None if bundle is None else bundle.content_hash,
        bundle_age=age,
        degraded=age is None or age > max_bundle_age or not clock.ok,
        clock=clock,
        clock_offset_s=None if offset is None else float(offset),
        last_sync=journal.get_meta(LAST_SYNC_KEY),
        last_bundle_refresh=journal.get_meta(LAST_BUNDLE_KEY),
        dead=journal.rows("dead"),
    )


CLOCK_PROBLEMS = {
    "behind": ("早于已见的最晚时间", "behind the newest time seen"),
    "behind_bundle": ("早于数据包的服务器时间", "behind the bundle's server time"),
    "jumped": ("时钟跳变", "jumped"),
    "ahead": ("超前于已见时间过多", "too far ahead of the newest time seen"),
}


def format_age(age: timedelta, lang: str = "zh") -> str:
    """``12 分钟前`` / ``12 min ago`` (minutes, hours or days)."""
    minutes = int(age.total_seconds() // 60)
    zh = lang == "zh"
    if minutes < 60:
        return f"{minutes} 分钟前" if zh else f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时前" if zh else f"{minutes // 60} h ago"
    return f"{minutes // 1440} 天前" if zh else f"{minutes // 1440} days ago"


def banner_text(online: bool, bundle: Bundle | None, now: datetime, lang: str = "zh") -> str:
    """Status strip: empty when online (the screen says 在线), else offline + bundle age;
    then who is on duty now when the bundle has the gate's shifts (:func:`duty_text`)."""
    zh = lang == "zh"
    duty = duty_text(bundle, now, lang)
    if online:
        if not duty:
            return ""
        return f"● 在线 · {duty}" if zh else f"● ONLINE · {duty}"
    if bundle is None:
        return "● 离线 · 无数据包" if zh else "● OFFLINE · no bundle"
    age = format_age(bundle.age(now), lang)
    text = f"● 离线 · 数据包 {age}" if zh else f"● OFFLINE · bundle {age}"
    return f"{text} · {duty}" if duty else text


def duty_text(bundle: Bundle | None, now: datetime, lang: str = "zh") -> str:
    """``值守：张三、李四（至 14:00）`` for the shift the device's clock is in (the end in the
    community's zone); ``本班无人值守（至 14:00）`` for a shift with nobody; empty without one."""
    if bundle is None:
        return ""
    slot = next((s for s in bundle.duty if s.starts_at <= now < s.ends_at), None)
    if slot is None:
        return ""
    try:
        until = f"{slot.ends_at.astimezone(ZoneInfo(bundle.timezone)):%H:%M}"
    except (ZoneInfoNotFoundError, ValueError):
        until = f"{slot.ends_at:%H:%M} UTC"
    if lang != "zh":
        names = ", ".join(slot.names)
        return f"On duty: {names} (until {until})" if names else f"Nobody on duty (until {until})"
    names = "、".join(slot.names)
    return f"值守：{names}（至 {until}）" if names else f"本班无人值守（至 {until}）"


def format_status(report: StatusReport, lang: str = "zh") -> str:
    """Human-readable multi-line report."""
    zh = lang == "zh"
    c = report.counts
    lines = []
    if report.device is None:
        lines.append("设备未登记（enroll）" if zh else "Device not enrolled (run enroll)")
    else:
        d = report.device
        lines.append(
            f"{'服务器' if zh else 'Server'}: {d.server}  gate {d.gate_code} {d.gate_name}"
        )
    lines.append(
        f"{'未上传' if zh else 'Unsent'}: {c['unsent']}  {'已上传' if zh else 'Sent'}: {c['sent']}"
        f"  {'被拒（死信）' if zh else 'Dead'}: {c['dead']}"
    )
    clock = report.clock
    if report.bundle_age is None:
        lines.append("数据包：无" if zh else "Bundle: none")
    elif clock is not None and clock.problem == "behind_bundle":  # never a negative age
        lines.append(
            f"{'数据包' if zh else 'Bundle'}: {report.bundle_version}"
            + (" (⚠ 时钟早于数据包时间)" if zh else " (⚠ clock before the bundle's time)")
        )
    else:
        flag = (" ⚠ 已过期" if zh else " ⚠ STALE") if report.degraded else ""
        age = format_age(report.bundle_age, lang)
        lines.append(f"{'数据包' if zh else 'Bundle'}: {report.bundle_version} ({age}){flag}")
    offset = report.clock_offset_s
    lines.append(
        f"{'时钟偏差' if zh else 'Clock offset'}: "
        + ("?" if offset is None else f"{offset:+.1f} s")
    )
    if clock is not None:
        mark = "-" if clock.mark is None else format_utc(clock.mark)
        state = "正常" if zh else "ok"
        if clock.problem is not None:
            problem = CLOCK_PROBLEMS[clock.problem][0 if zh else 1]
            state = f"{'⚠ 异常' if zh else '⚠ FAULT'} ({problem})"
        lines.append(
            f"{'时钟' if zh else 'Clock'}: {state}  {format_utc(clock.now)}"
            f"  {'最晚已见时间' if zh else 'newest time seen'} {mark}"
        )
    sync = report.last_sync
    if sync is None:
        lines.append("上次同步：无" if zh else "Last sync: never")
    else:
        result = sync.get("error") or "ok"
        lines.append(
            f"{'上次同步' if zh else 'Last sync'}: {sync.get('at')} {result}"
            f" (sent {sync.get('sent', 0)}, duplicate {sync.get('duplicates', 0)},"
            f" dead {sync.get('dead', 0)})"
        )
    for row in report.dead:
        lines.append(f"  ✗ {row.entry.id} {row.entry.scanned_at.isoformat()} {row.error or ''}")
    return "\n".join(lines)
