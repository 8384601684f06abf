"""Temperature input at the gate: a serial IR thermometer, a keypad prompt, or a fixed value.

Temperatures are integer tenths of a degree Celsius (36.5 C -> 365). A `Thermometer.read` returns
one of three `Reading` values and never raises for bad input:

- `ReadingOk(tenths, at)`: parsed and inside 34.0-43.0 C (340..430 tenths, inclusive);
- `ReadingInvalid(raw, reason, at)`: unparsable (``reason="unparsable"``) or outside the sensor
  range (``reason="out_of_range"``); the volunteer must re-measure (请复测), never allow;
- `NoReading()`: nothing arrived before the timeout; the caller records ``no_temperature``.

``at`` is the injected clock (``time.monotonic`` by default) when the value was received.
This module is the only one that opens the thermometer's serial device (`DeviceLineSource`: plain
``os.open`` + ``termios``, no pyserial).
"""

from __future__ import annotations

import logging
import os
import re
import select
import termios
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import floor
from typing import Final, Literal, Protocol

log = logging.getLogger(__name__)

Clock = Callable[[], float]

MIN_TENTHS: Final = 340
MAX_TENTHS: Final = 430
MAX_RAW_CHARS: Final = 120
REMEASURE_MESSAGE: Final = "请复测 / please re-measure"


@dataclass(frozen=True)
class ReadingOk:
    """A plausible body temperature in tenths of a degree Celsius."""

    tenths: int
    at: float


@dataclass(frozen=True)
class ReadingInvalid:
    """Unusable input; ``reason`` is a stable code: ``unparsable`` or ``out_of_range``."""

    raw: str
    reason: Literal["unparsable", "out_of_range"]
    at: float

    @property
    def message(self) -> str:
        """What the volunteer sees (zh / en)."""
        return REMEASURE_MESSAGE


@dataclass(frozen=True)
class NoReading:
    """Nothing arrived in time."""


Reading = ReadingOk | ReadingInvalid | NoReading


class Thermometer(Protocol):
    """A temperature source. ``read`` waits at most ``timeout_s`` (0 = poll) and never raises."""

    def read(self, timeout_s: float) -> Reading: ...

    def close(self) -> None: ...


class ThermometerError(Exception):
    """A thermometer spec or device the operator must fix; message in zh / en."""


# --- parsing ---------------------------------------------------------------------------------

# A number, optionally followed by a unit: C, F, °C, °F (℃/℉ become °C/°F under NFKC).
_NUMBER = re.compile(
    r"(?<![0-9.])(?P<num>[0-9]{1,4}(?:[.,][0-9]+)?)(?![0-9])\s*(?P<unit>°?\s*[CcFf](?![a-zA-Z]))?",
    re.ASCII,
)
# Labels of values that are not the body temperature, e.g. "Obj:36.5 Amb:25.1".
_IGNORED_LABEL = re.compile(r"(amb|ambient|env|room|环境)\s*[:=]?\s*$", re.IGNORECASE)


def _round_half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


def parse_tenths(text: str) -> int | None:
    """Parse a thermometer line or keypad entry to tenths of a degree Celsius, or None.

    Accepts ``36.5``, ``036.5``, ``36,5``, ``T=36.5C``, ``36.5℃``, ``TEMP:36.5``, ``Body 36.5 C``,
    ``97.7F`` (converted), and a bare three-digit ``365`` meaning 36.5. Exactly one candidate
    number must remain after dropping ambient-labelled ones, else None (ambiguous). Rounds half up
    to the nearest tenth. No range check here; see `classify`.
    """
    if len(text) > MAX_RAW_CHARS:
        return None
    normal = unicodedata.normalize("NFKC", text)
    candidates = [
        m for m in _NUMBER.finditer(normal) if not _IGNORED_LABEL.search(normal[: m.start()])
    ]
    if len(candidates) > 1:  # "No 12 36.5C": prefer the one value that carries a unit
        candidates = [m for m in candidates if m.group("unit")]
    if len(candidates) != 1:
        return None
    match = candidates[0]
    number = match.group("num").replace(",", ".")
    unit = (match.group("unit") or "").strip(" °").upper()
    value = Fraction(number)
    if unit == "F":
        celsius = (value - 32) * Fraction(5, 9)
    elif "." not in number and MIN_TENTHS <= value <= MAX_TENTHS:
        celsius = value / 10  # a keypad "365" or a device sending tenths
    else:
        celsius = value
    return _round_half_up(celsius * 10)


def classify(raw: str, at: float) -> ReadingOk | ReadingInvalid:
    """Parse ``raw`` and apply the 34.0-43.0 C sensor range."""
    tenths = parse_tenths(raw)
    if tenths is None:
        return ReadingInvalid(raw[:MAX_RAW_CHARS], "unparsable", at)
    if not MIN_TENTHS <= tenths <= MAX_TENTHS:
        return ReadingInvalid(raw[:MAX_RAW_CHARS], "out_of_range", at)
    return ReadingOk(tenths, at)


# --- the serial device -----------------------------------------------------------------------


class LineSource(Protocol):
    """Text lines from a device; ``readline`` waits at most ``timeout_s`` and returns None."""

    def readline(self, timeout_s: float) -> str | None: ...

    def close(self) -> None: ...


_BAUD_RATES: Final = {
    rate: getattr(termios, f"B{rate}")
    for rate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
    if hasattr(termios, f"B{rate}")
}
_LINE_END = re.compile(rb"[\r\n]")


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:  # Chinese devices often send "℃" in GBK
        return line.decode("gb18030", errors="replace")


class DeviceLineSource:
    """Lines (ended by CR or LF) from a serial device file, raw 8N1 at ``baud``, non-blocking.

    Input pending when the port opens is discarded. If the device goes away (unplugged), reads
    return None and the port is reopened at most once a second.
    """

    MAX_LINE_BYTES: Final = 256

    def __init__(self, path: str, baud: int = 9600) -> None:
        if baud not in _BAUD_RATES:
            rates = ", ".join(map(str, _BAUD_RATES))
            raise ThermometerError(
                f"不支持的波特率 {baud}（可用：{rates}） / Unsupported baud rate {baud}"
                f" (supported: {rates})"
            )
        self.path = path
        self._speed: int = _BAUD_RATES[baud]
        self._buffer = bytearray()
        self._lines: deque[str] = deque(maxlen=64)
        self._retry_at = 0.0
        self._fd: int | None = self._open()

    @property
    def connected(self) -> bool:
        """Whether the device file is currently open."""
        return self._fd is not None

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise ThermometerError(
                f"无法打开测温枪串口 {self.path}：{exc.strerror}；请检查连接线和权限（dialout 组）"
                f" / Cannot open thermometer port {self.path}: {exc.strerror}; check the cable"
                " and permissions (dialout group)"
            ) from exc
        try:
            self._configure(fd)
        except termios.error as exc:
            os.close(fd)
            raise ThermometerError(
                f"{self.path} 不是串口 / {self.path} is not a serial port"
            ) from exc
        return fd

    def _configure(self, fd: int) -> None:
        iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
        iflag &= ~(
            termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
            | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON | termios.IXOFF
        )  # fmt: skip
        oflag &= ~termios.OPOST
        lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
        cflag &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | getattr(termios, "CRTSCTS", 0))
        cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
        cc[termios.VMIN] = 0
        cc[termios.VTIME] = 0
        attrs = [iflag, oflag, cflag, lflag, self._speed, self._speed, cc]
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        termios.tcflush(fd, termios.TCIFLUSH)  # a reading from before start-up is not fresh

    def _disconnect(self, why: str) -> None:
        log.warning("thermometer %s disconnected: %s", self.path, why)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._buffer.clear()
        self._retry_at = time.monotonic() + 1.0

    def _reconnect(self) -> int | None:
        if time.monotonic() < self._retry_at:
            return None
        self._retry_at = time.monotonic() + 1.0
        try:
            self._fd = self._open()
        except ThermometerError:
            return None
        log.warning("thermometer %s reconnected", self.path)
        return self._fd

    def _feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while (end := _LINE_END.search(self._buffer)) is not None:
            line = bytes(self._buffer[: end.start()])
            del self._buffer[: end.end()]
            if line.strip():
                self._lines.append(_decode(line).strip())
        if len(self._buffer) > self.MAX_LINE_BYTES:  # no line end: noise or a wrong baud rate
            self._buffer.clear()

    def readline(self, timeout_s: float) -> str | None:
        """The next complete line, waiting at most ``timeout_s`` seconds."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while not self._lines:
            fd = self._fd if self._fd is not None else self._reconnect()
            if fd is None:
                return None
            remaining = max(deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            try:
                chunk = os.read(fd, 1024)
            except BlockingIOError:
                continue
            except OSError as exc:
                self._disconnect(exc.strerror or str(exc))
                return None
            if not chunk:
                self._disconnect("end of file")
                return None
            self._feed(chunk)
        return self._lines.popleft()

    def close(self) -> None:
        """Close the device file; idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# --- implementations -------------------------------------------------------------------------


class SerialThermometer:
    """A line-based IR thermometer on a serial port (or any injected `LineSource`).

    ``read`` returns the newest line already received, else waits up to ``timeout_s`` for one.
    A line is stamped when it is read, so call ``read(0)`` often (e.g. every loop iteration,
    through `FreshReading`) to keep ``at`` close to the moment of measurement.
    """

    def __init__(self, lines: LineSource, *, clock: Clock = time.monotonic) -> None:
        self._lines = lines
        self._clock = clock

    @classmethod
    def open(
        cls, path: str, baud: int = 9600, *, clock: Clock = time.monotonic
    ) -> SerialThermometer:
        """Open the device file; raises `ThermometerError` if it cannot be opened."""
        return cls(DeviceLineSource(path, baud), clock=clock)

    def read(self, timeout_s: float) -> Reading:
        """Newest pending line, else the first line within ``timeout_s``, else `NoReading`."""
        newest: str | None = None
        while (line := self._lines.readline(0.0)) is not None:
            newest = line
        if newest is None:
            newest = self._lines.readline(timeout_s)
        if newest is None:
            return NoReading()
        return classify(newest, self._clock())

    def close(self) -> None:
        """Close the port."""
        self._lines.close()


class PromptThermometer:
    """The volunteer types the temperature (``365`` or ``36.5``) and Enter.

    ``input_fn`` is called with a bilingual prompt and blocks until Enter, so ``timeout_s`` is not
    enforced. End of input (EOFError) gives `NoReading`.
    """

    PROMPT: Final = "体温 / temperature (例 e.g. 365): "

    def __init__(
        self, input_fn: Callable[[str], str] = input, *, clock: Clock = time.monotonic
    ) -> None:
        self._input = input_fn
        self._clock = clock

    def read(self, timeout_s: float) -> Reading:
        """Ask once; see the class docstring."""
        try:
            raw = self._input(self.PROMPT)
        except EOFError:
            return NoReading()
        return classify(raw.strip(), self._clock())

    def close(self) -> None:
        """Nothing to release."""


_DIGITS: Final = frozenset("0123456789")


class KeypadEntry:
    """The temperature as the volunteer types it into the gate's window, key by key.

    Digits and one ``.`` (or ``,``); ``backspace`` deletes; ``enter`` hands over what was
    typed. Three digits (``365``) or one digit after the point (``36.5``) are handed over at
    once (auto-accept). `key` returns the reading when one is complete, else None; the entry
    is then empty again.
    """

    MAX_CHARS: Final = 5

    def __init__(self) -> None:
        self.typed = ""

    @property
    def shown(self) -> str:
        """What the screen shows while typing, blanks still to fill: ``__._``, ``3_._``,
        ``36._``, ``36.5`` (for ``365`` or ``36.5``)."""
        whole, dot, decimals = self.typed.replace(",", ".").partition(".")
        if not dot and len(whole) == 3:
            whole, decimals = whole[:2], whole[2]
        return f"{whole.ljust(2, '_')}.{decimals or '_'}"

    def _complete(self) -> bool:
        whole, dot, decimals = self.typed.replace(",", ".").partition(".")
        return len(decimals) == 1 if dot else len(whole) == 3

    def key(self, name: str, at: float) -> ReadingOk | ReadingInvalid | None:
        """Apply one key (see `scanner.inputs.Key`); the reading once one is complete."""
        if name == "backspace":
            self.typed = self.typed[:-1]
        elif name == "enter" and self.typed:
            return self._hand_over(at)
        elif len(self.typed) < self.MAX_CHARS and (name in _DIGITS or self._point(name)):
            self.typed += name
            if self._complete():
                return self._hand_over(at)
        return None

    def _point(self, name: str) -> bool:
        return name in (".", ",") and "." not in self.typed and "," not in self.typed

    def _hand_over(self, at: float) -> ReadingOk | ReadingInvalid:
        raw, self.typed = self.typed, ""
        return classify(raw, at)


class KeypadThermometer:
    """``prompt`` in the gate's window: the scan loop reads the keys itself (`KeypadEntry`) and
    keeps the window refreshing while it waits; ``read`` alone has nothing to read."""

    def read(self, timeout_s: float) -> Reading:
        """Nothing arrives here: the keys go to the scan loop."""
        return NoReading()

    def close(self) -> None:
        """Nothing to release."""


class FixedThermometer:
    """Always the same value (demos and tests); out-of-range values give `ReadingInvalid`."""

    def __init__(self, raw: str, *, clock: Clock = time.monotonic) -> None:
        if parse_tenths(raw) is None:
            raise ThermometerError(
                f"固定体温无法识别：{raw!r}（例 fixed:36.6） / Cannot parse fixed temperature"
                f" {raw!r} (e.g. fixed:36.6)"
            )
        self.raw = raw
        self._clock = clock

    def read(self, timeout_s: float) -> Reading:
        """The fixed value, stamped now."""
        return classify(self.raw, self._clock())

    def close(self) -> None:
        """Nothing to release."""


class FreshReading:
    """Wraps a thermometer; remembers its last valid reading for at most ``max_age_s`` seconds.

    ``read`` returns a new reading if one arrives, else the remembered one while it is fresh,
    else `NoReading`. An invalid reading forgets the remembered one (the volunteer re-measured).
    Call `clear` after a crossing used the reading so the next person cannot inherit it.
    """

    def __init__(
        self, inner: Thermometer, *, max_age_s: float = 10.0, clock: Clock = time.monotonic
    ) -> None:
        self._inner = inner
        self._max_age_s = max_age_s
        self._clock = clock
        self._last: ReadingOk | None = None

    def read(self, timeout_s: float) -> Reading:
        """See the class docstring."""
        reading = self._inner.read(timeout_s)
        if isinstance(reading, ReadingOk):
            self._last = reading
            return reading
        if isinstance(reading, ReadingInvalid):
            self._last = None
            return reading
        if self._last is not None and self._clock() - self._last.at <= self._max_age_s:
            return self._last
        self._last = None
        return NoReading()

    def clear(self) -> None:
        """Forget the remembered reading."""
        self._last = None

    def close(self) -> None:
        """Close the wrapped thermometer."""
        self._inner.close()


def wait_for_valid(
    thermometer: Thermometer,
    timeout_s: float,
    clock: Clock = time.monotonic,
    *,
    poll_s: float = 0.25,
    on_invalid: Callable[[ReadingInvalid], None] | None = None,
    on_waiting: Callable[[], None] | None = None,
) -> ReadingOk | NoReading:
    """Ask until a valid reading arrives or ``timeout_s`` passes (then `NoReading`).

    Each invalid reading is passed to ``on_invalid`` (e.g. to show 请复测) and asking continues;
    ``on_waiting`` is called after each ask that brought nothing (at most ``poll_s`` apart: a
    window stays alive, a screen can ask for the measurement).
    """
    deadline = clock() + timeout_s
    while (remaining := deadline - clock()) > 0:
        reading = thermometer.read(min(remaining, poll_s))
        if isinstance(reading, ReadingOk):
            return reading
        if isinstance(reading, ReadingInvalid) and on_invalid is not None:
            on_invalid(reading)
        elif on_waiting is not None:
            on_waiting()
    return NoReading()


_SERIAL_SPEC = re.compile(r"serial:(?P<path>.+?)(?::(?P<baud>[0-9]+))?")


def parse_thermometer_spec(
    spec: str,
    *,
    input_fn: Callable[[str], str] = input,
    clock: Clock = time.monotonic,
) -> Thermometer:
    """Build a thermometer from ``serial:/dev/ttyUSB0[:9600]``, ``prompt`` or ``fixed:36.6``.

    Opens a serial device immediately; raises `ThermometerError` (zh / en) for a bad spec or a
    device that cannot be opened.
    """
    if spec == "prompt":
        return PromptThermometer(input_fn, clock=clock)
    if spec.startswith("fixed:"):
        return FixedThermometer(spec.removeprefix("fixed:"), clock=clock)
    if (match := _SERIAL_SPEC.fullmatch(spec)) is not None:
        baud = int(match.group("baud")) if match.group("baud") else 9600
        return SerialThermometer.open(match.group("path"), baud, clock=clock)
    raise ThermometerError(
        f"无法识别的测温方式 {spec!r}：请用 serial:/dev/ttyUSB0[:9600]、prompt 或 fixed:36.6"
        f" / Unknown thermometer {spec!r}: use serial:/dev/ttyUSB0[:9600], prompt or fixed:36.6"
    )
