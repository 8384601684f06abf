"""The scan loop: a small state machine from a captured frame to a verdict on the screen.

``IDLE -> CODE_SEEN -> TEMPERATURE -> DECIDING -> COMMITTING -> SHOWING (hold) -> IDLE``, and
after a refusal ``SHOWING -> (supervisor card) PICKING -> COMMITTING -> SHOWING``.

Everything is injected (frame items, decoder, thermometer, decider, journal, display, sounder,
monotonic clock), so tests drive it with fake frames, fake keys and a fake clock. Guarantees:

- Nothing is shown for a scan before :meth:`Journal.record` returned; if the journal fails the
  screen shows a storage fault (``FAULT``), never the verdict. Override crossings too.
- Debouncing (:mod:`scanner.debounce`): one presentation is one crossing; the same pass again
  within the repeat window shows the remembered verdict and records nothing.
- ``latency_ms`` is frame capture to decision, on the same monotonic clock as the frames.
- Direction is fixed per device, or chosen per scan by keys (``o``/left: out, ``i``/right: in);
  a keyed choice applies to the next scan only, then the device default returns.
- The window is the volunteer's keyboard: keys pass through :class:`scanner.inputs.KeyRouter`,
  so a keyboard-wedge scanner typing into the window is a scan, and a person's keys choose the
  direction, type the temperature (``prompt``: :class:`scanner.thermometer.KeypadEntry`, shown
  big while typed) and pick an override reason. An item ``None`` from the source is a tick:
  nothing new, keep the window alive.
- Supervisor cards (the decider's :class:`Supervising` side): after a refusal, the next scan of
  a supervisor card asks for a reason (就医 / 紧急情况 / 工作人员核实 / 其他, typed) and records
  the override crossing the decider returns; on the clock-fault and stale-bundle screens
  (which say 请主管刷主管卡) the card unlocks the device instead.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from passes import Direction, HouseholdState, Override
from scanner.clock import CLOCK_FAULT
from scanner.debounce import Debouncer, Seen
from scanner.deciding import STALE_BUNDLE, Decision, ScanRequest
from scanner.display import Lang, Screen
from scanner.frames import Captured, Frame, Image, TypedCode
from scanner.inputs import Key, KeyRouter
from scanner.journal import CrossingEntry, JournalFault
from scanner.thermometer import (
    KeypadEntry,
    KeypadThermometer,
    NoReading,
    ReadingInvalid,
    ReadingOk,
    Thermometer,
    wait_for_valid,
)
from scanner.window import Display

UNLOCK_CODES = frozenset({CLOCK_FAULT, STALE_BUNDLE})
"""Refusals of the device itself: a supervisor card unlocks them (no override crossing)."""
ASK_SUPERVISOR: dict[Lang, str] = {"zh": "请主管刷主管卡", "en": "Supervisor: scan your card"}
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("就医", "Medical"),
    ("紧急情况", "Emergency"),
    ("工作人员核实", "Verified by staff"),
    ("其他", "Other"),
)
"""The reason picker's list (keys 1-4); the last one is typed. Recorded in Chinese."""


class Phase(Enum):
    """Where the loop is."""

    IDLE = "idle"
    CODE_SEEN = "code_seen"
    TEMPERATURE = "temperature"
    DECIDING = "deciding"
    COMMITTING = "committing"
    SHOWING = "showing"
    PICKING = "picking"
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


@runtime_checkable
class Supervising(Protocol):
    """The decider's supervisor-card side. A decider without it treats a card like any text."""

    def is_supervisor_card(self, text: str) -> bool: ...

    def override(
        self, request: ScanRequest, refused: Decision, card_text: str, reason: str
    ) -> Decision:
        """An allowed decision recorded as an override, or a refusal if the card is not valid."""
        ...

    def unlock(self, card_text: str) -> Decision | None:
        """None when the card unlocked the device; a refusal otherwise."""
        ...


class Recording(Protocol):
    """The journal's write side."""

    def record(self, entry: CrossingEntry, state_after: HouseholdState | None = None) -> None: ...


class Sounding(Protocol):
    """A sounder (:mod:`scanner.sound`)."""

    def play(self, kind: str) -> None: ...


@dataclass(frozen=True)
class LoopEvent:
    """What one captured item led to: a new crossing, a replayed verdict, a storage fault, an
    override crossing, an unlock (``decision`` None: unlocked), or a supervisor card that had
    nothing to do (``card``: no refusal to override, or the picker was cancelled)."""

    kind: Literal["crossing", "replay", "fault", "override", "unlock", "card"]
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

    def key(self, name: str) -> bool:
        """Apply a key press (ignored when the direction is fixed); whether it changed."""
        before = self.chosen
        if self.keyed and name in _OUT_KEYS:
            self.chosen = Direction.OUT
        elif self.keyed and name in _IN_KEYS:
            self.chosen = Direction.IN
        return self.chosen != before

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
    picker_timeout_s: float = 30.0
    override_window_s: float = 60.0


@dataclass(frozen=True)
class _Refused:
    request: ScanRequest
    decision: Decision
    at: float


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
        self._router = KeyRouter(clock)
        self._keys: deque[Key] = deque()
        self._typed: deque[TypedCode] = deque()
        self._refused: _Refused | None = None
        self._idle_shown_at = float("-inf")
        self.events: list[LoopEvent] = []
        self.phase = Phase.IDLE
        self._hold_until = float("-inf")

    # --- driving -------------------------------------------------------------------------------

    def run(
        self, items: Iterable[Captured | None], *, paced: bool = False, linger: bool = False
    ) -> list[LoopEvent]:
        """Handle every item until the source ends or the window is closed; returns what
        happened. ``paced``: a verdict is held for its full time before the next item is taken
        (image files and videos in a window); ``linger``: the last verdict too."""
        self._show_idle()
        start = len(self.events)
        for item in items:
            self.handle(item)
            if self._display.closed:
                break
            if paced:
                self.hold()
        if linger:
            self.hold()
        return self.events[start:]

    def hold(self) -> None:
        """Keep the window alive (keys handled) until the shown verdict's time is over."""
        while self.phase in (Phase.SHOWING, Phase.FAULT) and not self._display.closed:
            remaining = self._hold_until - self._clock()
            if remaining <= 0:
                self._show_idle()
                return
            self._display.wait(min(remaining, 0.05))
            self._take_keys()

    def handle(self, item: Captured | None) -> LoopEvent | None:
        """One captured item (None: a tick) through the state machine; the event it caused."""
        self._take_keys()
        self._expire_hold()
        if item is None:
            self._display.wait(0.0)
            return None
        texts = self._texts(item)
        if not texts:
            self._debounce.nothing()
            return None
        return self._sighted(texts[0], item.at, typed=isinstance(item, TypedCode))

    def _sighted(self, text: str, at: float, *, typed: bool) -> LoopEvent | None:
        sighting = self._debounce.see(text, at)
        if typed:
            self._debounce.nothing()  # a typed line is a whole presentation
        if sighting.seen is Seen.CONTINUING:
            return None
        if sighting.seen is Seen.REPEAT and sighting.previous is not None:
            self._show_decision(sighting.previous)
            return self._event(LoopEvent("replay", sighting.text, sighting.previous))
        if isinstance(self._decider, Supervising) and self._decider.is_supervisor_card(text):
            return self._supervisor_card(text)
        return self._scan(sighting.text, at)

    def _texts(self, item: Captured) -> list[str]:
        if isinstance(item, TypedCode):
            return [item.text]
        assert isinstance(item, Frame)
        return [text for text in self._decoder.decode(item.image).texts if text]

    def _event(self, event: LoopEvent) -> LoopEvent:
        self.events.append(event)
        return event

    def _expire_hold(self) -> None:
        now = self._clock()
        if self.phase in (Phase.SHOWING, Phase.FAULT) and now >= self._hold_until:
            self._show_idle()
        elif self.phase is Phase.IDLE and now - self._idle_shown_at >= 1.0:
            self._show_idle()  # the status strip (online, bundle age) stays current

    # --- keys ----------------------------------------------------------------------------------

    def _collect_keys(self) -> None:
        while (key := self._display.poll_key()) is not None:
            self._router.feed(key)
        for got in self._router.take():
            if isinstance(got, TypedCode):
                self._typed.append(got)
            else:
                self._keys.append(got)

    def _take_keys(self) -> None:
        """Outside a prompt: person keys choose the direction; wedge codes are scans."""
        self._collect_keys()
        while self._keys:
            if self.direction.key(self._keys.popleft().name) and self.phase is Phase.IDLE:
                self._show_idle()
        while self._typed:
            code = self._typed.popleft()
            self._expire_hold()
            self._sighted(code.text, code.at, typed=True)
            self._collect_keys()

    def _next_key(self, timeout_s: float) -> Key | None:
        """Inside a prompt: the next person key within ``timeout_s`` (wedge codes wait)."""
        deadline = self._clock() + timeout_s
        while not self._display.closed:
            if self._keys:
                return self._keys.popleft()
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            self._display.wait(min(remaining, 0.05))
            self._collect_keys()
        return None

    # --- a scan --------------------------------------------------------------------------------

    def _scan(self, text: str, captured_at: float) -> LoopEvent:
        self._refused = None
        self.phase = Phase.CODE_SEEN
        direction = self.direction.take()
        self.phase = Phase.TEMPERATURE
        reading = self._temperature()
        self.phase = Phase.DECIDING
        request = ScanRequest(
            pass_text=text,
            direction=direction,
            temperature=reading.tenths if isinstance(reading, ReadingOk) else None,
            operator=self.config.operator,
        )
        decision = self._decider.decide(request)
        latency_ms = max(int((self._clock() - captured_at) * 1000), 0)
        if not self._record(request, decision, latency_ms):
            return self._event(LoopEvent("fault", text, None))
        clear = getattr(self._thermometer, "clear", None)
        if callable(clear):  # the next person must not inherit this reading
            clear()
        self._show_decision(decision)
        self._debounce.remember(text, decision, self._clock())
        if not decision.allowed:
            self._refused = _Refused(request, decision, self._clock())
        return self._event(LoopEvent("crossing", text, decision))

    def _record(self, request: ScanRequest, decision: Decision, latency_ms: int | None) -> bool:
        """Journal first; on a storage fault show the fault screen and say so."""
        self.phase = Phase.COMMITTING
        try:
            self._journal.record(entry_for(request, decision, latency_ms), decision.state_after)
        except JournalFault:
            self._show_fault()
            return False
        return True

    def _temperature(self) -> ReadingOk | NoReading:
        if isinstance(self._thermometer, KeypadThermometer):
            return self._typed_temperature()
        return wait_for_valid(
            self._thermometer,
            self.config.temperature_timeout_s,
            self._clock,
            on_invalid=self._show_remeasure,
        )

    def _typed_temperature(self) -> ReadingOk | NoReading:
        """``365`` typed into the window (auto-accepted), or ``36.5`` and Enter; Esc skips."""
        entry = KeypadEntry()
        self._show_entry(entry)
        while (key := self._next_key(self.config.temperature_timeout_s)) is not None:
            if key.name == "escape":
                break
            reading = entry.key(key.name, self._clock())
            if isinstance(reading, ReadingOk):
                return reading
            if isinstance(reading, ReadingInvalid):
                self._show_remeasure(reading)
            else:
                self._show_entry(entry)
        return NoReading()

    # --- supervisor cards ----------------------------------------------------------------------

    def _supervisor_card(self, card: str) -> LoopEvent:
        decider = self._decider
        assert isinstance(decider, Supervising)
        refused, self._refused = self._refused, None
        if refused is not None and self._clock() - refused.at > self.config.override_window_s:
            refused = None
        if refused is None:
            self._show_note(*_NOTHING_TO_OVERRIDE[self.config.lang])
            return self._event(LoopEvent("card", card, None))
        if refused.decision.code in UNLOCK_CODES:
            result = decider.unlock(card)
            if result is None:
                self._show_note(*_UNLOCKED[self.config.lang])
            else:
                self._show_decision(result)
            return self._event(LoopEvent("unlock", card, result))
        reason = self._pick_reason(refused.decision)
        if reason is None:
            self._show_idle()
            return self._event(LoopEvent("card", card, None))
        decision = decider.override(refused.request, refused.decision, card, reason)
        request = replace(
            refused.request,
            crossing_id=decision.crossing_id,
            override=_override_of(decision, card, reason),
        )
        if not self._record(request, decision, None):
            return self._event(LoopEvent("fault", card, None))
        self._show_decision(decision)
        return self._event(LoopEvent("override", card, decision))

    def _pick_reason(self, refused: Decision) -> str | None:
        """1-3 pick a reason, 4 types one (Enter); Esc or no key in time cancels."""
        if not self._display.keyboard:
            return None
        self.phase = Phase.PICKING
        zh = self.config.lang == "zh"
        who = refused.household_label or ""
        ask = "请选择放行原因（按数字键，Esc 取消）" if zh else "Pick a reason (number key, Esc)"
        self._show_prompt(
            "主管放行" if zh else "SUPERVISOR OVERRIDE",
            f"{who}  {ask}".strip(),
            lines=tuple(
                f"{n}  {label[0] if zh else label[1]}{'（输入）' if n == 4 and zh else ''}"
                for n, label in enumerate(OVERRIDE_REASONS, 1)
            ),
        )
        while (key := self._next_key(self.config.picker_timeout_s)) is not None:
            if key.name == "escape":
                return None
            if key.name in ("1", "2", "3"):
                return OVERRIDE_REASONS[int(key.name) - 1][0]
            if key.name == "4":
                typed = self._type_reason()
                if typed is not None:
                    return f"{OVERRIDE_REASONS[3][0]}：{typed}"
                return None
        return None

    def _type_reason(self) -> str | None:
        zh = self.config.lang == "zh"
        typed = ""
        hint = "输入原因，回车确认，Esc 取消" if zh else "Type the reason, Enter; Esc cancels"
        while True:
            self._show_prompt(typed or ("其他原因" if zh else "Other reason"), hint)
            key = self._next_key(self.config.picker_timeout_s)
            if key is None or key.name == "escape":
                return None
            if key.name == "enter" and typed.strip():
                return typed.strip()
            if key.name == "backspace":
                typed = typed[:-1]
            elif len(key.name) == 1 and len(typed) < 40:
                typed += key.name

    # --- screens -------------------------------------------------------------------------------

    def _show_decision(self, decision: Decision) -> None:
        self.phase = Phase.SHOWING
        self._hold_until = self._clock() + self.config.hold_s
        ask = isinstance(self._decider, Supervising) and decision.code in UNLOCK_CODES
        self._display.show(
            screen_for(decision, self.config.lang, self._banner(), ask_supervisor=ask)
        )
        if self._sounder is not None:
            self._sounder.play(decision.display)

    def _screen(self, kind: Literal["remeasure", "fault", "prompt"], **fields: object) -> Screen:
        return Screen(
            kind=kind,
            lang=self.config.lang,
            online=self._decider.online,
            banner=self._banner(),
            **fields,  # type: ignore[arg-type]
        )

    def _show_prompt(self, headline: str, reason: str, lines: tuple[str, ...] = ()) -> None:
        self._display.show(self._screen("prompt", headline=headline, reason=reason, lines=lines))

    def _show_note(self, headline: str, reason: str) -> None:
        """A prompt screen held like a verdict (e.g. 已解锁)."""
        self._show_prompt(headline, reason)
        self.phase = Phase.SHOWING
        self._hold_until = self._clock() + self.config.hold_s

    def _show_entry(self, entry: KeypadEntry) -> None:
        zh = self.config.lang == "zh"
        shown = f"{entry.shown}℃"
        self._display.show(
            self._screen(
                "prompt",
                headline=shown,
                reason="请输入体温，例：365" if zh else "Type the temperature, e.g. 365",
                label="回车确认 · 退格删除 · Esc 跳过" if zh else "Enter · Backspace · Esc skips",
            )
        )

    def _show_remeasure(self, reading: ReadingInvalid) -> None:
        self._display.show(self._screen("remeasure", reason=reading.message))

    def _show_fault(self) -> None:
        self.phase = Phase.FAULT
        self._hold_until = self._clock() + self.config.hold_s
        zh, en = "存储故障：本次未记录，请人工登记并联系管理员", "Storage fault: not recorded"
        self._display.show(self._screen("fault", reason=en if self.config.lang == "en" else zh))
        if self._sounder is not None:
            self._sounder.play("fault")

    def _show_idle(self) -> None:
        self.phase = Phase.IDLE
        self._idle_shown_at = self._clock()
        banner = self._banner()
        if self.direction.keyed:
            word = {"out": "出", "in": "进"}[self.direction.next.value]
            banner = f"{banner} · {word} {self.direction.next.value.upper()}".strip(" ·")
        self._display.show(
            Screen(kind="idle", lang=self.config.lang, online=self._decider.online, banner=banner)
        )


_NOTHING_TO_OVERRIDE: dict[Lang, tuple[str, str]] = {
    "zh": ("主管卡", "只在禁止通行后刷主管卡"),
    "en": ("SUPERVISOR CARD", "Scan it after a refusal"),
}
_UNLOCKED: dict[Lang, tuple[str, str]] = {
    "zh": ("已解锁", "主管已确认，请重新扫码"),
    "en": ("UNLOCKED", "Supervisor confirmed: scan the pass again"),
}


def _override_of(decision: Decision, card: str, reason: str) -> Override:
    """The override the journal records: the decider's own if its decision carries one."""
    carried = getattr(decision, "override", None)
    if isinstance(carried, Override):
        return carried
    return Override(supervisor="supervisor_card", reason=reason, card=card)


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


def screen_for(
    decision: Decision, lang: Lang, banner: str = "", *, ask_supervisor: bool = False
) -> Screen:
    """The gate screen for a decision (label is masked by the server, or an opaque number).
    ``ask_supervisor``: the bottom line asks for a supervisor card (clock fault, stale data)."""
    next_exit = ""
    if decision.allowed and decision.direction is Direction.OUT and decision.next_exit_at:
        local = decision.next_exit_at.astimezone(ZoneInfo(decision.timezone))
        when = local.strftime("%m-%d %H:%M")
        next_exit = f"下次可外出：{when}" if lang == "zh" else f"Next outing: {when}"
    if ask_supervisor:
        next_exit = ASK_SUPERVISOR[lang]
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
