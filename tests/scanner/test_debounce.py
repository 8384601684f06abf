"""Debouncing: one presentation is one scan; a quick re-show replays the verdict."""

from __future__ import annotations

from scanner.debounce import Debouncer, Seen
from tests.scanner.fakes import FakeClock


def test_the_same_code_in_consecutive_frames_is_one_scan() -> None:
    clock = FakeClock()
    debouncer: Debouncer[str] = Debouncer(clock=clock)
    assert debouncer.see("A").seen is Seen.NEW
    debouncer.remember("A", "verdict-A")
    for _ in range(30):
        clock.advance(0.1)
        assert debouncer.see("A").seen is Seen.CONTINUING


def test_same_pass_again_within_the_window_replays_the_previous_verdict() -> None:
    clock = FakeClock()
    debouncer: Debouncer[str] = Debouncer(repeat_window_s=5, clock=clock)
    debouncer.see("A")
    debouncer.remember("A", "verdict-A")
    debouncer.nothing()
    clock.advance(4.9)
    sighting = debouncer.see("A")
    assert sighting.seen is Seen.REPEAT
    assert sighting.previous == "verdict-A"


def test_the_window_counts_from_the_last_sighting_not_the_verdict() -> None:
    clock = FakeClock()
    debouncer: Debouncer[str] = Debouncer(repeat_window_s=5, clock=clock)
    debouncer.see("A")
    debouncer.remember("A", "v")
    clock.advance(4)
    debouncer.see("A")  # still held
    debouncer.nothing()
    clock.advance(4)
    assert debouncer.see("A").seen is Seen.REPEAT


def test_same_pass_after_the_window_is_a_new_scan() -> None:
    clock = FakeClock()
    debouncer: Debouncer[str] = Debouncer(repeat_window_s=5, clock=clock)
    debouncer.see("A")
    debouncer.remember("A", "v")
    debouncer.nothing()
    clock.advance(5.1)
    assert debouncer.see("A").seen is Seen.NEW


def test_a_different_pass_is_new_even_right_away() -> None:
    debouncer: Debouncer[str] = Debouncer(clock=FakeClock())
    debouncer.see("A")
    debouncer.remember("A", "v")
    assert debouncer.see("B").seen is Seen.NEW
    assert debouncer.see("A").seen is Seen.REPEAT
