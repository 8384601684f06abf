"""Keys typed into the window (a person or a wedge scanner), the keypad temperature entry, and
several frame sources at once."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from scanner.frames import Frame, FrameSourceError, TypedCode
from scanner.inputs import KEY_SETTLE_S, Key, KeyRouter, MergedSource
from scanner.thermometer import KeypadEntry, ReadingInvalid, ReadingOk
from tests.scanner.fakes import FakeClock


def _typed(text: str, start: float, gap: float) -> list[Key]:
    return [Key(ch, start + i * gap) for i, ch in enumerate([*text, "enter"])]


def _route(keys: list[Key]) -> list[Key | TypedCode]:
    clock = FakeClock()
    router = KeyRouter(clock)
    for key in keys:
        router.feed(key)
    early = router.take()
    clock.advance(KEY_SETTLE_S)
    return early + router.take()


def test_a_fast_burst_ending_in_enter_is_one_typed_code() -> None:
    [code] = _route(_typed("CP1:ABC DEF+OI", 5.0, 0.004))
    assert isinstance(code, TypedCode)
    assert code.text == "CP1:ABC DEF+OI"


def test_a_person_typing_is_handed_on_key_by_key_even_in_a_quick_burst() -> None:
    keys = _route([*_typed("365", 1.0, 0.02), Key("o", 2.0)])  # a short run is a person
    assert [k.name for k in keys if isinstance(k, Key)] == ["3", "6", "5", "enter", "o"]
    slow = _route(_typed("CP1:ABCDEFGH", 1.0, 0.2))
    assert all(isinstance(k, Key) for k in slow)
    assert len(slow) == 13


def test_a_fast_burst_without_enter_is_dropped() -> None:
    assert _route([Key(ch, 1.0 + i * 0.003) for i, ch in enumerate("CP1:ABCDEFGH")]) == []


def test_a_key_waits_until_it_cannot_be_the_start_of_a_burst() -> None:
    clock = FakeClock()
    router = KeyRouter(clock)
    router.feed(Key("i", 10.0))
    assert router.take() == []
    clock.advance(KEY_SETTLE_S)
    assert router.take() == [Key("i", 10.0)]


@pytest.mark.parametrize(
    ("keys", "tenths"),
    [("365", 365), ("36.5", 365), ("37,2", 372), ("36", None), ("3x6y5", 365)],
)
def test_keypad_entry_auto_accepts_three_digits_or_one_decimal(
    keys: str, tenths: int | None
) -> None:
    entry = KeypadEntry()
    results = [entry.key(k, 1.0) for k in keys]
    if tenths is None:
        assert results == [None] * len(keys)
        assert entry.key("enter", 1.0) == ReadingOk(360, 1.0)
    else:
        assert results[-1] == ReadingOk(tenths, 1.0)
        assert entry.typed == ""


def test_keypad_entry_backspace_and_an_impossible_value() -> None:
    entry = KeypadEntry()
    for key in "39":
        entry.key(key, 1.0)
    entry.key("backspace", 1.0)
    assert entry.shown == "3_._"
    assert entry.key("enter", 1.0) is not None  # "3" alone: unparsable or out of range
    wrong = [entry.key(k, 2.0) for k in "999"][-1]
    assert isinstance(wrong, ReadingInvalid)
    assert wrong.reason == "out_of_range"
    assert entry.key("enter", 2.0) is None  # nothing typed: nothing handed over


class _ListSource:
    def __init__(self, items: list[Frame | TypedCode], fail: bool = False) -> None:
        self.items = items
        self.fail = fail
        self.closed = False

    def __iter__(self) -> Iterator[Frame | TypedCode]:
        yield from self.items
        if self.fail:
            raise FrameSourceError("camera gone")

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> _ListSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_merged_sources_deliver_every_item_and_tick_when_quiet() -> None:
    frames: list[Frame | TypedCode] = [Frame(np.zeros((2, 2, 3), np.uint8), i) for i in range(20)]
    codes: list[Frame | TypedCode] = [TypedCode("A", 1.0), TypedCode("B", 2.0)]
    camera, wedge = _ListSource(frames), _ListSource(codes)
    with MergedSource([camera, wedge]) as merged:
        items = list(merged)
    assert [i for i in items if isinstance(i, Frame)] == frames  # none lost, in order
    assert [i.text for i in items if isinstance(i, TypedCode)] == ["A", "B"]
    assert camera.closed
    assert wedge.closed


def test_merged_source_raises_a_source_error_and_ticks_without_sources() -> None:
    with pytest.raises(FrameSourceError, match="camera gone"):
        list(MergedSource([_ListSource([], fail=True)]))
    window_only = iter(MergedSource([], tick_s=0.001))
    assert [next(window_only) for _ in range(3)] == [None, None, None]


def test_a_wedge_burst_survives_a_stall_of_a_busy_machine() -> None:
    keys = _typed("CP1:ABCDEFGHIJKL", 1.0, 0.004)
    stalled = [*keys[:10], *(Key(k.name, k.at + 0.3) for k in keys[10:])]
    clock = FakeClock()
    router = KeyRouter(clock)
    for key in stalled[:10]:
        router.feed(key)
    clock.advance(0.2)  # the loop looks while the wedge is stalled: not settled yet
    assert router.take() == []
    for key in stalled[10:]:
        router.feed(key)
    [code] = router.take()  # complete at its Enter
    assert isinstance(code, TypedCode)
    assert code.text == "CP1:ABCDEFGHIJKL"
