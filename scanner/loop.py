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
- Supervisor cards (the decider's supervisor-card side): after a refusal, the next scan of
  a supervisor card asks for a reason (就医 / 紧急情况 / 工作人员核实 / 其他, typed) and records
  the override crossing the decider returns; on the clock-fault and stale-bundle screens
  (which say 请主管刷主管卡) the card unlocks the device instead.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from scanner.debounce import Debouncer, Seen
from scanner.deciding import Decision, ScanRequest
from scanner.display import Lang, Screen
from scanner.frames import Captured, Frame, TypedCode
from scanner.inputs import Key, KeyRouter
from scanner.journal import JournalFault
from scanner.loop_parts import (
    ASK_SUPERVISOR,
    OVERRIDE_REASONS,
    UNLOCK_CODES,
    Deciding,
    DecodedTexts,
    DirectionChooser,
    FrameDecoder,
    LoopConfig,
    LoopEvent,
    PeopleCounter,
    Phase,
    ReasonPicker,
    Recording,
    Sounding,
    entry_for,
    override_record,
    screen_for,
)
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

__all__ = [
    "ASK_SUPERVISOR",
    "OVERRIDE_REASONS",
    "UNLOCK_CODES",
    "Deciding",
    "DecodedTexts",
    "DirectionChooser",
    "FrameDecoder",
    "LoopConfig",
    "LoopEvent",
    "Phase",
    "Recording",
    "ScanLoop",
    "Sounding",
    "entry_for",
    "screen_for",
]


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
        self.people = PeopleCounter()
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
        if self._decider.is_supervisor_card(text):
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
            name = self._keys.popleft().name
            changed = self.direction.key(name) | self.people.key(name)
            if changed and self.phase is Phase.IDLE:
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
        people = self.people.take()
        self.phase = Phase.TEMPERATURE
        reading = self._temperature()
        self.phase = Phase.DECIDING
        request = ScanRequest(
            pass_text=text,
            direction=direction,
            temperature=reading.tenths if isinstance(reading, ReadingOk) else None,
            operator=self.config.operator,
            people=people,
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
        zh = self.config.lang == "zh"

        def waiting() -> None:  # the reading is not there yet: ask for it, keep the window alive
            self._show_prompt(
                "请测体温" if zh else "MEASURE",
                "测温枪对准额头" if zh else "Point the thermometer at the forehead",
            )
            self._display.wait(0.0)

        return wait_for_valid(
            self._thermometer,
            self.config.temperature_timeout_s,
            self._clock,
            on_invalid=self._show_remeasure,
            on_waiting=waiting,
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
        # The override is a crossing of its own: a new client UUID, the refused scan's pass,
        # direction and temperature.
        fresh = replace(refused.request, crossing_id=str(uuid.uuid4()))
        decision = decider.override(fresh, refused.decision, card, reason)
        request = replace(
            fresh,
            crossing_id=decision.crossing_id,
            override=override_record(decision, card, reason),
        )
        if not self._record(request, decision, None):
            return self._event(LoopEvent("fault", card, None))
        self._show_decision(decision)
        return self._event(LoopEvent("override", card, decision))

    def _pick_reason(self, refused: Decision) -> str | None:
        if not self._display.keyboard:
            return None  # nobody can pick: the override is not made
        self.phase = Phase.PICKING
        picker = ReasonPicker(
            next_key=self._next_key,
            show=self._show_prompt,
            lang=self.config.lang,
            timeout_s=self.config.picker_timeout_s,
        )
        return picker.pick(refused.household_label or "")

    # --- screens -------------------------------------------------------------------------------

    def _show_decision(self, decision: Decision) -> None:
        self.phase = Phase.SHOWING
        self._hold_until = self._clock() + self.config.hold_s
        ask = decision.code in UNLOCK_CODES
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
        if self.people.count > 1:  # a group: the volunteer pressed +
            banner = f"{banner} · {self.people.count}人".strip(" ·")
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
