"""Thermometers: the line parser, the range check, freshness, the keypad, a real pty serial port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.thermometer import (
    DeviceLineSource,
    FixedThermometer,
    FreshReading,
    NoReading,
    PromptThermometer,
    Reading,
    ReadingInvalid,
    ReadingOk,
    SerialThermometer,
    ThermometerError,
    classify,
    parse_tenths,
    parse_thermometer_spec,
    wait_for_valid,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeLines:
    """A LineSource fed by the test; each readline advances the clock by the timeout if empty."""

    def __init__(self, lines: list[str], clock: FakeClock | None = None) -> None:
        self.lines = list(lines)
        self.clock = clock
        self.closed = False

    def readline(self, timeout_s: float) -> str | None:
        if self.lines:
            return self.lines.pop(0)
        if self.clock is not None:
            self.clock.now += timeout_s
        return None

    def close(self) -> None:
        self.closed = True


FORMATS: list[Callable[[str], str]] = [
    lambda v: v,
    lambda v: f"T={v}C",
    lambda v: f"0{v}",
    lambda v: f"{v}℃",
    lambda v: f"TEMP:{v}",
    lambda v: f"Body {v} C",
    lambda v: f"{v}°C",
    lambda v: f"  {v}\r",
    lambda v: f"Obj:{v} Amb:25.1",
]


@pytest.mark.parametrize(
    ("line", "tenths"),
    [
        ("36.5", 365),
        ("T=36.5C", 365),
        ("036.5", 365),
        ("36.5℃", 365),
        ("TEMP:36.5", 365),
        ("Body 36.5 C", 365),
        ("97.7F", 365),
        ("98.6°F", 370),
        ("36,5", 365),
        ("365", 365),
        ("37", 370),
        ("36.55", 366),  # half up
        ("36.549", 365),
        ("３６.５", 365),  # full-width digits from a Chinese keypad IME
        ("No 12 36.8C", 368),
        ("36.5000", 365),
        ("TEMP:36.5C *7A", 365),
        ("36.5 Fever", 365),  # "F" starting a word is not Fahrenheit
    ],
)
def test_common_thermometer_formats_parse_to_tenths(line: str, tenths: int) -> None:
    assert parse_tenths(line) == tenths


@pytest.mark.parametrize("line", ["", "abc", "ERR", "36.5 37.1", "--.-", "T=", "x" * 500])
def test_garbage_and_ambiguous_lines_do_not_parse(line: str) -> None:
    assert parse_tenths(line) is None


@given(tenths=st.integers(340, 430), fmt=st.sampled_from(FORMATS))
def test_any_plausible_value_in_any_format_parses_exactly(
    tenths: int, fmt: Callable[[str], str]
) -> None:
    text = fmt(f"{tenths // 10}.{tenths % 10}")
    assert classify(text, 0.0) == ReadingOk(tenths, 0.0)


@given(tenths=st.integers(340, 430))
def test_fahrenheit_converts_to_the_nearest_tenth(tenths: int) -> None:
    fahrenheit = Fraction(tenths, 10) * Fraction(9, 5) + 32
    text = f"{float(fahrenheit):.1f}F"
    parsed = parse_tenths(text)
    assert parsed is not None
    assert abs(parsed - tenths) <= 1  # 0.1 F of display rounding is 0.06 C


@given(st.text(max_size=200))
def test_garbage_never_raises(text: str) -> None:
    reading = classify(text, 0.0)
    assert isinstance(reading, ReadingOk | ReadingInvalid)
    if isinstance(reading, ReadingOk):
        assert 340 <= reading.tenths <= 430


@given(st.binary(max_size=300))
def test_serial_bytes_never_raise(data: bytes) -> None:
    thermometer = SerialThermometer(FakeLines([data.decode("latin-1")]))
    assert isinstance(thermometer.read(0.0), ReadingOk | ReadingInvalid | NoReading)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("33.9", "out_of_range"),
        ("43.1", "out_of_range"),
        ("212F", "out_of_range"),
        ("hi", "unparsable"),
    ],
)
def test_out_of_range_or_unparsable_means_remeasure(raw: str, reason: str) -> None:
    reading = classify(raw, 5.0)
    assert isinstance(reading, ReadingInvalid)
    assert reading.reason == reason
    assert "请复测" in reading.message


def test_range_limits_are_inclusive() -> None:
    assert classify("34.0", 0.0) == ReadingOk(340, 0.0)
    assert classify("43.0", 0.0) == ReadingOk(430, 0.0)


def test_serial_thermometer_returns_the_newest_pending_line() -> None:
    clock = FakeClock()
    thermometer = SerialThermometer(FakeLines(["36.1", "36.4", "T=36.7C"]), clock=clock)

    assert thermometer.read(1.0) == ReadingOk(367, 1000.0)
    assert thermometer.read(1.0) == NoReading()


def test_fresh_reading_is_reused_until_max_age_then_forgotten() -> None:
    clock = FakeClock()
    lines = FakeLines(["36.6"])
    fresh = FreshReading(SerialThermometer(lines, clock=clock), max_age_s=10, clock=clock)

    assert fresh.read(0) == ReadingOk(366, 1000.0)
    clock.now += 10
    assert fresh.read(0) == ReadingOk(366, 1000.0)
    clock.now += 0.5
    assert fresh.read(0) == NoReading()


def test_fresh_reading_is_cleared_after_use_and_by_an_invalid_reading() -> None:
    clock = FakeClock()
    lines = FakeLines(["36.6"])
    fresh = FreshReading(SerialThermometer(lines, clock=clock), clock=clock)
    fresh.read(0)
    fresh.clear()
    assert fresh.read(0) == NoReading()

    lines.lines = ["36.6", "99.9"]
    fresh.read(0)  # the newest pending line wins: 99.9 is invalid
    lines.lines = ["36.6"]
    assert fresh.read(0) == ReadingOk(366, 1000.0)
    lines.lines = ["ERR"]
    assert isinstance(fresh.read(0), ReadingInvalid)
    assert fresh.read(0) == NoReading()


def test_wait_for_valid_keeps_asking_past_invalid_readings() -> None:
    clock = FakeClock()
    lines = FakeLines(["ERR", "31.0", "36.9"], clock)
    seen: list[ReadingInvalid] = []

    reading = wait_for_valid(_one_line_at_a_time(lines, clock), 5.0, clock, on_invalid=seen.append)

    assert reading == ReadingOk(369, 1000.0)
    assert [r.reason for r in seen] == ["unparsable", "out_of_range"]


def test_wait_for_valid_gives_no_reading_after_the_timeout() -> None:
    clock = FakeClock()
    reading = wait_for_valid(SerialThermometer(FakeLines([], clock), clock=clock), 3.0, clock)
    assert reading == NoReading()
    assert clock.now >= 1003.0


def _one_line_at_a_time(lines: FakeLines, clock: FakeClock) -> SerialThermometer:
    """A serial thermometer that sees only one pending line per read."""

    class OneLine:
        def readline(self, timeout_s: float) -> str | None:
            return lines.readline(timeout_s) if timeout_s > 0 else None

        def close(self) -> None:
            lines.close()

    return SerialThermometer(OneLine(), clock=clock)


def _answers(*texts: str) -> Callable[[str], str]:
    it: Iterator[str] = iter(texts)

    def fake_input(prompt: str) -> str:
        assert "体温" in prompt
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return fake_input


def test_prompt_accepts_three_digits_or_decimal_and_rejects_garbage() -> None:
    clock = FakeClock()
    keypad = PromptThermometer(_answers("365", " 36.8 ", "abc", "999"), clock=clock)

    readings: list[Reading] = [keypad.read(5) for _ in range(5)]

    assert readings[:2] == [ReadingOk(365, 1000.0), ReadingOk(368, 1000.0)]
    assert isinstance(readings[2], ReadingInvalid)
    assert readings[2].reason == "unparsable"
    assert isinstance(readings[3], ReadingInvalid)
    assert readings[3].reason == "out_of_range"
    assert readings[4] == NoReading()  # end of input


def test_fixed_thermometer_and_spec_factory() -> None:
    clock = FakeClock()
    fixed = parse_thermometer_spec("fixed:36.6", clock=clock)
    assert fixed.read(0) == ReadingOk(366, 1000.0)
    assert isinstance(FixedThermometer("50.0").read(0), ReadingInvalid)  # demo of a sensor error
    assert isinstance(parse_thermometer_spec("prompt", input_fn=_answers()), PromptThermometer)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fixed:warm", "Cannot parse fixed temperature"),
        ("laser", "Unknown thermometer"),
        ("serial:/dev/no-such-tty", "Cannot open thermometer port /dev/no-such-tty"),
        ("serial:/dev/null:12345", "Unsupported baud rate 12345"),
        ("serial:/dev/null", "not a serial port"),
    ],
)
def test_bad_specs_are_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(ThermometerError, match=message):
        parse_thermometer_spec(spec)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(slave)
        with contextlib.suppress(OSError):  # a test may have closed it already
            os.close(master)


def test_serial_thermometer_reads_a_real_tty(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    thermometer = parse_thermometer_spec(f"serial:{path}:9600")
    try:
        assert thermometer.read(0.05) == NoReading()
        os.write(master, b"T=36.")  # a line split across reads
        assert thermometer.read(0.05) == NoReading()
        os.write(master, b"5C\r\n")
        reading = thermometer.read(1.0)
        assert isinstance(reading, ReadingOk)
        assert reading.tenths == 365
        os.write(master, "37.0℃\r\n".encode("gbk") + b"Body 36.9 C\n")
        reading = thermometer.read(1.0)
        assert isinstance(reading, ReadingOk)
        assert reading.tenths == 369  # the newest of two pending lines
    finally:
        thermometer.close()


def test_unplugged_device_reads_nothing_and_never_raises(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    lines = DeviceLineSource(path, 9600)
    try:
        os.close(master)  # the far end goes away: reads on the slave fail with EIO
        assert lines.readline(0.2) is None
        assert not lines.connected
        assert lines.readline(0.0) is None
    finally:
        lines.close()


def test_wait_for_valid_calls_on_waiting_between_empty_asks() -> None:
    clock = FakeClock()
    readings = iter([NoReading(), NoReading(), ReadingOk(366, 0.0)])
    waited: list[float] = []

    class Slow:
        def read(self, timeout_s: float) -> Reading:
            clock.now += timeout_s
            return next(readings)

        def close(self) -> None:
            pass

    result = wait_for_valid(Slow(), 5.0, clock, on_waiting=lambda: waited.append(clock.now))
    assert result == ReadingOk(366, 0.0)
    assert len(waited) == 2
