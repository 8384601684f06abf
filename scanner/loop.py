"""The scan loop: a small state machine from a captured frame to a verdict on the screen.

``IDLE -> CODE_SEEN -> TEMPERATURE -> DECIDING -> COMMITTING -> SHOWING (hold) -> IDLE``

Everything is injected (frame items, decoder, thermometer, decider, journal, display, sounder,
monotonic clock), so tests drive it with fake frames and a fake clock. Guarantees:

- Nothing is shown for a scan before :meth:`Journal.record` returned; if the journal fails the
  screen shows a storage fault (``FAULT``), never the verdict.
- Debouncing (:mod:`scanner.debounce`): one presentation is one crossing; the same pass again
  within the repeat window shows the remembered verdict and records nothing.
- ``latency_ms`` is frame capture to decision, on the same monotonic clock as the frames.
- Direction is fixed per device, or chosen per scan by keys (``o``/left: out, ``i``/right: in);
  a keyed choice applies to the next scan only, then the device default returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from passes import Direction, HouseholdState
from scanner.debounce import Debouncer, Seen
from scanner.deciding import Decision, ScanRequest
from scanner.display import Display, Lang, Screen
from scanner.frames import Captured, Frame, Image, TypedCode
from scanner.journal import CrossingEntry, JournalFault
from scanner.thermometer import ReadingInvalid, ReadingOk, Thermometer, wait_for_valid


class Phase(Enum):
    """Where the loop is."""

    IDLE = "idle"
    CODE_SEEN = "code_seen"
    TEMPERATURE = "temperature"
    DECIDING = "deciding"
    COMMITTING = "committing"
    SHOWING = "showing"
    FAULT = "fault"


class DecodedTexts(Protocol):
    """What a decoder returns (``scanner.decoding.DecodeResult`` fits)."""

    @property
    def texts(self) -> Sequence[str]: ...


class FrameDecoder(Protocol):
    """Turns an image into the texts of the codes in it."""

    def decode(self, image: Image) -> DecodedTexts: ...


class Deciding(Protocol):
    """The decider (:class:`scanner.deciding.Decider`)."""

    online: bool

    def decide(self, request: ScanRequest) -> Decision: ...


class Recording(Protocol):
    """The journal's write side."""

    def record(self, entry: CrossingEntry, state_after: HouseholdState | None = None) -> None: ...


class Sounding(Protocol):
    """A sounder (:mod:`scanner.sound`)."""

    def play(self, kind: str) -> None: ...


@dataclass(frozen=True)
class LoopEvent:
    """What one captured item led to: a new crossing, a replayed verdict, or a storage fault."""

    kind: Literal["crossing", "replay", "fault"]
    text: str
    decision: Decision | None


_OUT_KEYS = frozenset({"o", "O", "left"})
_IN_KEYS = frozenset({"i", "I", "right"})


@dataclass
class DirectionChooser:
    """Fixed direction (``keyed=False``) or the default unless a key chose one for the next scan."""

    default: Direction = Direction.OUT
    keyed: bool = False
    chosen: Direction | None = None

    def key(self, name: str) -> None:
        """Apply a key press (ignored when the direction is fixed)."""
        if self.keyed and name in _OUT_KEYS:
            self.chosen = Direction.OUT
        elif self.keyed and name in _IN_KEYS:
            self.chosen = Direction.IN

    @property
    def next(self) -> Direction:
        """The direction the next scan will use."""
        return self.chosen or self.default

    def take(self) -> Direction:
        """The direction for this scan; a keyed choice is used up."""
        direction, self.chosen = self.next, None
        return direction


@dataclass(frozen=True)
class LoopConfig:
    """Timing and presentation (seconds)."""

    hold_s: float = 3.0
    temperature_timeout_s: float = 10.0
    repeat_window_s: float = 5.0
    lang: Lang = "zh"
    operator: str | None = None


class ScanLoop:
    """See the module docstring. ``banner`` gives the status strip text (may be empty)."""

    def __init__(
        self,
        *,
        decoder: FrameDecoder,
        thermometer: Thermometer,
        decider: Deciding,
        journal: Recording,
        display: Display,
        sounder: Sounding | None = None,
        clock: Callable[[], float] = time.monotonic,
        direction: DirectionChooser | None = None,
        config: LoopConfig | None = None,
        banner: Callable[[], str] | None = None,
    ) -> None:
        self._decoder = decoder
        self._thermometer = thermometer
        self._decider = decider
        self._journal = journal
        self._display = display
        self._sounder = sounder
        self._clock = clock
        self.direction = direction or DirectionChooser()
        self.config = config or LoopConfig()
        self._banner = banner or (lambda: "")
        self._debounce: Debouncer[Decision] = Debouncer(
            repeat_window_s=self.config.repeat_window_s, clock=clock
        )
        self.phase = Phase.IDLE
        self._hold_until = float("-inf")

    def run(self, items: Iterable[Captured]) -> list[LoopEvent]:
        """Handle every item until the source ends; returns what happened."""
        self._show_idle()
        events = []
        for item in items:
            event = self.handle(item)
            if event is not None:
                events.append(event)
        return events

    def handle(self, item: Captured) -> LoopEvent | None:
        """One captured item through the state machine."""
        self._poll_keys()
        if self.phase in (Phase.SHOWING, Phase.FAULT) and self._clock() >= self._hold_until:
            self._show_idle()
        texts = self._texts(item)
        if not texts:
            self._debounce.nothing()
            return None
        sighting = self._debounce.see(texts[0], item.at)
        if isinstance(item, TypedCode):
            self._debounce.nothing()  # a typed line is a whole presentation
        if sighting.seen is Seen.CONTINUING:
            return None
        if sighting.seen is Seen.REPEAT and sighting.previous is not None:
            self._show_decision(sighting.previous)
            return LoopEvent("replay", sighting.text, sighting.previous)
        return self._scan(sighting.text, item.at)

    def _texts(self, item: Captured) -> list[str]:
        if isinstance(item, TypedCode):
            return [item.text]
        assert isinstance(item, Frame)
        return [text for text in self._decoder.decode(item.image).texts if text]

    def _poll_keys(self) -> None:
        while (key := self._display.poll_key()) is not None:
            self.direction.key(key)

    def _scan(self, text: str, captured_at: float) -> LoopEvent:
        self.phase = Phase.CODE_SEEN
        direction = self.direction.take()
        self.phase = Phase.TEMPERATURE
        reading = wait_for_valid(
            self._thermometer,
            self.config.temperature_timeout_s,
            self._clock,
            on_invalid=self._show_remeasure,
        )
        self.phase = Phase.DECIDING
        request = ScanRequest(
            pass_text=text,
            direction=direction,
            temperature=reading.tenths if isinstance(reading, ReadingOk) else None,
            operator=self.config.operator,
        )
        decision = self._decider.decide(request)
        latency_ms = max(int((self._clock() - captured_at) * 1000), 0)
        self.phase = Phase.COMMITTING
        try:
            self._journal.record(entry_for(request, decision, latency_ms), decision.state_after)
        except JournalFault:
            self._show_fault()
            return LoopEvent("fault", text, None)
        clear = getattr(self._thermometer, "clear", None)
        if callable(clear):  # the next person must not inherit this reading
            clear()
        self._show_decision(decision)
        self._debounce.remember(text, decision, self._clock())
        return LoopEvent("crossing", text, decision)

    def _show_decision(self, decision: Decision) -> None:
        self.phase = Phase.SHOWING
        self._hold_until = self._clock() + self.config.hold_s
        self._display.show(screen_for(decision, self.config.lang, self._banner()))
        if self._sounder is not None:
            self._sounder.play(decision.display)

    def _show_remeasure(self, reading: ReadingInvalid) -> None:
        self._display.show(
            Screen(kind="remeasure", reason=reading.message, lang=self.config.lang,
                   online=self._decider.online, banner=self._banner())
        )  # fmt: skip

    def _show_fault(self) -> None:
        self.phase = Phase.FAULT
        self._hold_until = self._clock() + self.config.hold_s
        zh, en = "存储故障：本次未记录，请人工登记并联系管理员", "Storage fault: not recorded"
        self._display.show(
            Screen(kind="fault", reason=en if self.config.lang == "en" else zh,
                   lang=self.config.lang, online=self._decider.online, banner=self._banner())
        )  # fmt: skip
        if self._sounder is not None:
            self._sounder.play("fault")

    def _show_idle(self) -> None:
        self.phase = Phase.IDLE
        banner = self._banner()
        if self.direction.keyed:
            word = {"out": "出", "in": "进"}[self.direction.next.value]
            banner = f"{banner} · {word} {self.direction.next.value.upper()}".strip(" ·")
        self._display.show(
            Screen(kind="idle", lang=self.config.lang, online=self._decider.online, banner=banner)
        )


def entry_for(request: ScanRequest, decision: Decision, latency_ms: int | None) -> CrossingEntry:
    """The journal entry for a decided scan (online ones are already on the server)."""
    return CrossingEntry(
        id=decision.crossing_id,
        pass_text=request.pass_text,
        direction=decision.direction,
        temperature=request.temperature,
        scanned_at=decision.scanned_at,
        verdict=decision.wire_verdict(),
        offline=decision.offline,
        household_id=decision.household_id,
        operator=request.operator,
        override=request.override,
        latency_ms=latency_ms,
        state="unsent" if decision.offline else "sent",
        server_crossing_id=decision.server_crossing_id,
        clock_offset_ms=decision.clock_offset_ms,
    )


def screen_for(decision: Decision, lang: Lang, banner: str = "") -> Screen:
    """The gate screen for a decision (label is masked by the server, or an opaque number)."""
    next_exit = ""
    if decision.allowed and decision.direction is Direction.OUT and decision.next_exit_at:
        local = decision.next_exit_at.astimezone(ZoneInfo(decision.timezone))
        when = local.strftime("%m-%d %H:%M")
        next_exit = f"下次可外出：{when}" if lang == "zh" else f"Next outing: {when}"
    temperature = ""
    tenths = decision.temperature
    if decision.display != "remeasure" and tenths is not None:
        temperature = f"{tenths // 10}.{tenths % 10}℃"
    return Screen(
        kind=decision.display,
        reason=decision.reason(lang),
        label=decision.household_label or "",
        next_exit=next_exit,
        temperature=temperature,
        online=not decision.offline,
        banner=banner,
        lang=lang,
    )
