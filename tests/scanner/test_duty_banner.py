"""The scanner's status strip shows who is on duty at its gate, from the bundle's shifts and
its own clock (online and offline, next shift when the clock moves on, nothing without one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from passes import HouseholdState, KeySet, RuleSet, wire
from scanner.bundle import Bundle
from scanner.status import banner_text

T0 = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)  # 06:00 on 12-06 in Shanghai


def _bundle(duty: tuple[wire.DutySlot, ...] | None) -> Bundle:
    data = wire.Bundle.build(
        generated_at=T0,
        community=wire.Community(350322, "幸福里", "Asia/Shanghai"),
        rules=RuleSet(),
        keys=KeySet(()),
        revoked_pass_ids=(),
        households=(HouseholdState(1),),
        duty=duty,
    ).to_json()
    return Bundle.from_dict(data, fetched_at=T0)


def test_the_strip_names_the_people_on_duty_until_the_shift_ends() -> None:
    bundle = _bundle(
        (
            wire.DutySlot(T0, T0 + timedelta(hours=8), ("张三", "李四")),
            wire.DutySlot(T0 + timedelta(hours=8), T0 + timedelta(hours=16), ()),
        )
    )
    at = T0 + timedelta(hours=1)
    assert banner_text(True, bundle, at) == "● 在线 · 值守：张三、李四（至 14:00）"
    assert (
        banner_text(False, bundle, at) == "● 离线 · 数据包 1 小时前 · 值守：张三、李四（至 14:00）"
    )
    assert banner_text(True, bundle, at, "en") == "● ONLINE · On duty: 张三, 李四 (until 14:00)"
    later = T0 + timedelta(hours=9)
    assert banner_text(True, bundle, later) == "● 在线 · 本班无人值守（至 22:00）"
    assert banner_text(True, bundle, T0 + timedelta(hours=17)) == ""


def test_a_bundle_without_shifts_leaves_the_strip_as_it_was() -> None:
    bundle = _bundle(None)
    assert bundle.duty == ()
    assert banner_text(True, bundle, T0) == ""
    assert banner_text(False, bundle, T0 + timedelta(minutes=5)) == "● 离线 · 数据包 5 分钟前"
