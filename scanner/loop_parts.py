"""The scan loop's vocabulary: its phases and events, the ports it is built from (decoder,
decider and its supervisor-card side, journal, sounder), its configuration, the direction
chooser, and the two translations of a decision it makes: the journal entry and the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from passes import MAX_PEOPLE, Direction, HouseholdState, Override
from scanner.clock import CLOCK_FAULT
from scanner.deciding import STALE_BUNDLE, Decision, ScanRequest
from scanner.display import Lang, Screen
from scanner.frames import Image
from scanner.inputs import Key
from scanner.journal import CrossingEntry

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
    """The decider (:class:`scanner.deciding.Decider`), supervisor-card side included."""

    online: bool

    def decide(self, request: ScanRequest) -> Decision: ...

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


_MORE_KEYS = frozenset({"+", "plus", "KP_Add", "equal", "="})
_FEWER_KEYS = frozenset({"-", "minus", "KP_Subtract"})


@dataclass
class PeopleCounter:
    """How many persons the next scan is for: 1 unless the volunteer pressed + (or -); back to
    1 once a scan took it."""

    count: int = 1

    def key(self, name: str) -> bool:
        """Apply a key press; whether it changed the count (1 to ``passes.MAX_PEOPLE``)."""
        before = self.count
        if name in _MORE_KEYS:
            self.count = min(self.count + 1, MAX_PEOPLE)
        elif name in _FEWER_KEYS:
            self.count = max(self.count - 1, 1)
        return self.count != before

    def take(self) -> int:
        """The count for this scan; the next one starts at 1 again."""
        count, self.count = self.count, 1
        return count


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


def override_record(decision: Decision, card: str, reason: str) -> Override:
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
        people=request.people,
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


class ReasonPicker:
    """The override's reason, picked in the window: 1-3 pick one of `OVERRIDE_REASONS`, 4
    types one (Enter confirms); Esc or no key within ``timeout_s`` cancels (None). Reasons
    are recorded in Chinese whatever the screen's language."""

    def __init__(
        self,
        *,
        next_key: Callable[[float], Key | None],
        show: Callable[[str, str, tuple[str, ...]], None],
        lang: Lang,
        timeout_s: float,
    ) -> None:
        self._next_key = next_key
        self._show = show
        self._zh = lang == "zh"
        self._timeout_s = timeout_s

    def pick(self, household_label: str) -> str | None:
        """Show the list and wait for a choice."""
        zh = self._zh
        ask = "请选择放行原因（按数字键，Esc 取消）" if zh else "Pick a reason (number key, Esc)"
        self._show(
            "主管放行" if zh else "SUPERVISOR OVERRIDE",
            f"{household_label}  {ask}".strip(),
            tuple(
                f"{n}  {label[0] if zh else label[1]}{'（输入）' if n == 4 and zh else ''}"
                for n, label in enumerate(OVERRIDE_REASONS, 1)
            ),
        )
        while (key := self._next_key(self._timeout_s)) is not None:
            if key.name == "escape":
                return None
            if key.name in ("1", "2", "3"):
                return OVERRIDE_REASONS[int(key.name) - 1][0]
            if key.name == "4":
                typed = self._typed()
                return None if typed is None else f"{OVERRIDE_REASONS[3][0]}：{typed}"
        return None

    def _typed(self) -> str | None:
        zh = self._zh
        typed = ""
        hint = "输入原因，回车确认，Esc 取消" if zh else "Type the reason, Enter; Esc cancels"
        while True:
            self._show(typed or ("其他原因" if zh else "Other reason"), hint, ())
            key = self._next_key(self._timeout_s)
            if key is None or key.name == "escape":
                return None
            if key.name == "enter" and typed.strip():
                return typed.strip()
            if key.name == "backspace":
                typed = typed[:-1]
            elif len(key.name) == 1 and len(typed) < 40:
                typed += key.name
