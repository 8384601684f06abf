"""The scan loop with the window as its keyboard: a temperature typed into it, a wedge scanner
typing into it, and the supervisor card's override and unlock steps (against a fake of the
supervisor side of the decider)."""

from __future__ import annotations

import itertools
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from PIL import Image

from passes import Direction
from scanner.clock import CLOCK_FAULT_REASONS
from scanner.deciding import Decider, Decision, ScanRequest
from scanner.display import BACKGROUNDS
from scanner.frames import TypedCode
from scanner.loop import ASK_SUPERVISOR, DirectionChooser, LoopConfig
from scanner.thermometer import KeypadThermometer
from scanner.window import ScreenshotDisplay
from tests.scanner.test_loop import World

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class SupervisedDecider:
    """The real offline decider plus a fake of its supervisor-card side: a card is
    ``SUP:<name>``, ``SUP:revoked`` is refused. ``fault`` turns every decision into a clock
    fault (the device refuses everyone until a supervisor unlocks it)."""

    def __init__(self, inner: Decider) -> None:
        self.inner = inner
        self.fault = False
        self.overrides: list[tuple[ScanRequest, Decision, str, str]] = []
        self.unlocks: list[str] = []

    @property
    def online(self) -> bool:
        return self.inner.online

    def decide(self, request: ScanRequest) -> Decision:
        decision = self.inner.decide(request)
        if self.fault:
            zh, en = CLOCK_FAULT_REASONS
            return replace(
                decision,
                allowed=False,
                display="refuse",
                code="clock_fault",
                reason_zh=zh,
                reason_en=en,
            )
        return decision

    def is_supervisor_card(self, text: str) -> bool:
        return text.startswith("SUP:")

    def override(
        self, request: ScanRequest, refused: Decision, card_text: str, reason: str
    ) -> Decision:
        self.overrides.append((request, refused, card_text, reason))
        if card_text == "SUP:revoked":
            return replace(refused, crossing_id=str(uuid.uuid4()), code="supervisor_card_revoked")
        return replace(
            refused,
            crossing_id=str(uuid.uuid4()),
            allowed=True,
            display="allow",
            notes=("override",),
            reason_zh=f"主管放行：{reason}",
        )

    def unlock(self, card_text: str) -> Decision | None:
        self.unlocks.append(card_text)
        if card_text == "SUP:revoked":
            return replace(self._refusal(), code="supervisor_card_revoked", reason_zh="主管卡无效")
        self.fault = False
        return None

    def _refusal(self) -> Decision:
        request = ScanRequest("x", Direction.OUT, None)
        return replace(self.inner.decide(request), allowed=False, display="refuse")


def _supervised(tmp_path: Path, **kwargs: object) -> tuple[World, SupervisedDecider]:
    w = World(tmp_path, **kwargs)  # type: ignore[arg-type]
    decider = SupervisedDecider(w.decider)
    w.loop._decider = decider
    return w, decider


def _refuse_card_1(w: World) -> None:
    """Card 1 out (allowed), then out again 6 s later: refused (already out)."""
    card = w.community.passes[1]
    events = w.loop.run(itertools.chain(w.hold(card, 0.5), w.hold(None, 6.0), w.hold(card, 0.5)))
    assert [e.decision.allowed for e in events if e.decision] == [True, False]


def _card(w: World, text: str) -> list[TypedCode]:
    return [TypedCode(text, w.clock.now)]


def test_365_typed_into_the_window_is_the_temperature_shown_while_typing(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.loop._thermometer = KeypadThermometer()
    w.display.type_slowly(["3", "6", "5"])

    w.loop.run(w.hold(w.community.passes[1], 0.2))

    [row] = w.journal.rows()
    assert row.entry.temperature == 365
    typed = [s.headline for s in w.display.screens if s.kind == "prompt"]
    assert typed == ["__._℃", "3_._℃", "36._℃"]
    [verdict] = w.display.verdicts
    assert (verdict.kind, verdict.temperature) == ("allow", "36.5℃")


def test_a_wrong_temperature_asks_to_remeasure_and_backspace_and_enter_work(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    w.loop._thermometer = KeypadThermometer()
    w.display.type_slowly(["9", "9", "9", "3", "7", "backspace", "6", "enter"])

    w.loop.run(w.hold(w.community.passes[1], 0.2))

    [row] = w.journal.rows()
    assert row.entry.temperature == 360
    kinds = [s.kind for s in w.display.screens]
    assert kinds.index("remeasure") < kinds.index("allow")


def test_no_key_in_time_or_escape_records_no_temperature(tmp_path: Path) -> None:
    w = World(tmp_path, config=LoopConfig(temperature_timeout_s=2.0))
    w.loop._thermometer = KeypadThermometer()
    w.loop.run(w.hold(w.community.passes[1], 0.2))
    w.display.type_slowly(["3", "escape"])
    w.loop.run(itertools.chain(w.hold(None, 6.0), w.hold(w.community.passes[2], 0.2)))

    assert [r.entry.verdict["code"] for r in w.journal.rows()] == [
        "no_temperature",
        "no_temperature",
    ]


def test_a_wedge_typing_into_the_window_is_a_scan_and_its_letters_are_not_direction_keys(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, direction=DirectionChooser(Direction.OUT, keyed=True))
    card = next(p for p in w.community.passes.values() if "I" in p)  # "I" would mean "in"
    w.display.type_fast(card)

    events = w.loop.run(w.hold(None, 1.5))

    assert [e.kind for e in events] == ["crossing"]
    [row] = w.journal.rows()
    assert row.entry.pass_text == card
    assert row.entry.direction is Direction.OUT


def test_a_person_typing_slowly_is_never_a_scan(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.display.type_slowly([*"CP1:ABCDEFGH", "enter"])
    assert w.loop.run(w.hold(None, 6.0)) == []
    assert w.journal.rows() == []


def test_a_supervisor_card_after_a_refusal_records_an_override_with_the_picked_reason(
    tmp_path: Path,
) -> None:
    w, decider = _supervised(tmp_path)
    _refuse_card_1(w)
    w.display.type_slowly(["2"])

    events = w.loop.run(_card(w, "SUP:王"))

    assert [e.kind for e in events] == ["override"]
    [(request, refused, card, reason)] = decider.overrides
    assert (request.pass_text, refused.code, card, reason) == (
        w.community.passes[1],
        "already_out",
        "SUP:王",
        "紧急情况",
    )
    rows = w.journal.rows()
    assert len(rows) == 3
    override = rows[-1].entry
    assert override.id == events[0].decision.crossing_id  # type: ignore[union-attr]
    assert override.id != rows[1].entry.id  # a crossing of its own
    assert request.crossing_id not in {row.entry.id for row in rows[:2]}
    assert override.verdict["allowed"] is True
    assert override.override is not None
    assert (override.override.reason, override.override.card) == ("紧急情况", "SUP:王")
    picker = next(s for s in w.display.screens if s.lines)
    assert picker.headline == "主管放行"
    assert picker.lines == ("1  就医", "2  紧急情况", "3  工作人员核实", "4  其他（输入）")
    assert w.display.screens[-1].kind == "allow"


def test_other_reason_is_typed_and_escape_cancels_without_recording(tmp_path: Path) -> None:
    w, decider = _supervised(tmp_path)
    _refuse_card_1(w)
    w.display.type_slowly(["4", "x", "y", "backspace", "z", "enter"])
    assert [e.kind for e in w.loop.run(_card(w, "SUP:王"))] == ["override"]
    assert decider.overrides[-1][3] == "其他：xz"

    (tmp_path / "second").mkdir()
    w2, decider2 = _supervised(tmp_path / "second")
    _refuse_card_1(w2)
    w2.display.type_slowly(["escape"])
    assert [e.kind for e in w2.loop.run(_card(w2, "SUP:王"))] == ["card"]
    assert decider2.overrides == []
    assert len(w2.journal.rows()) == 2
    w2.journal.close()


def test_an_invalid_supervisor_card_is_shown_refused_and_journaled_as_such(
    tmp_path: Path,
) -> None:
    w, _ = _supervised(tmp_path)
    _refuse_card_1(w)
    w.display.type_slowly(["1"])
    [event] = w.loop.run(_card(w, "SUP:revoked"))
    assert event.kind == "override"
    assert event.decision is not None
    assert event.decision.allowed is False
    assert w.journal.rows()[-1].entry.verdict["allowed"] is False
    assert w.display.screens[-1].kind == "refuse"


def test_a_supervisor_card_with_nothing_refused_records_nothing(tmp_path: Path) -> None:
    w, decider = _supervised(tmp_path)
    assert [e.kind for e in w.loop.run(_card(w, "SUP:王"))] == ["card"]
    assert decider.overrides == decider.unlocks == []
    assert w.journal.rows() == []
    assert w.display.screens[-1].headline == "主管卡"


def test_the_clock_fault_screen_asks_for_a_supervisor_whose_card_unlocks(tmp_path: Path) -> None:
    w, decider = _supervised(tmp_path)
    decider.fault = True
    w.loop.run(w.hold(w.community.passes[1], 0.5))
    fault = w.display.verdicts[-1]
    assert (fault.kind, fault.next_exit) == ("refuse", ASK_SUPERVISOR["zh"])

    [bad] = w.loop.run(_card(w, "SUP:revoked"))
    assert (bad.kind, bad.decision and bad.decision.code) == ("unlock", "supervisor_card_revoked")

    w.loop.run(itertools.chain(w.hold(None, 6.0), w.hold(w.community.passes[2], 0.5)))
    [good] = w.loop.run(_card(w, "SUP:王"))
    assert (good.kind, good.decision) == ("unlock", None)
    assert w.display.screens[-1].headline == "已解锁"
    assert decider.unlocks == ["SUP:revoked", "SUP:王"]
    assert decider.overrides == []
    w.loop.run(itertools.chain(w.hold(None, 6.0), w.hold(w.community.passes[3], 0.5)))
    assert w.journal.rows()[-1].entry.verdict["allowed"] is True


def test_paced_items_hold_each_verdict_and_linger_holds_the_last(tmp_path: Path) -> None:
    w = World(tmp_path, config=LoopConfig(hold_s=4.0))
    start = w.clock.now
    items = [w.decoder.frame(w.community.passes[1], start), None]
    w.loop.run(items, paced=True, linger=True)
    assert w.clock.now - start >= 4.0
    assert w.display.screens[-1].kind == "idle"


def test_the_refusal_override_and_clock_fault_screens_are_kept_as_pngs(tmp_path: Path) -> None:
    """What the volunteer sees at each step, rendered as the window renders it; kept in
    test-artifacts/screenshots/ for the closing note and for a look."""
    w, decider = _supervised(tmp_path)
    shots = tmp_path / "shots"
    w.loop._display = ScreenshotDisplay(w.display, shots)
    _refuse_card_1(w)
    w.display.type_slowly(["3"])
    w.loop.run(_card(w, "SUP:王"))
    decider.fault = True
    w.loop.run(itertools.chain(w.hold(None, 6.0), w.hold(w.community.passes[2], 0.5)))
    w.loop.run(_card(w, "SUP:王"))

    kinds = [p.name.split("-", 1)[1] for p in sorted(shots.iterdir())]
    assert [k for k in kinds if k != "idle.png"] == [
        "allow.png",
        "refuse.png",
        "prompt.png",
        "allow.png",
        "refuse.png",
        "prompt.png",
    ]
    named = sorted(shots.iterdir())
    refusals, prompts, allowed = (
        [p for p in named if p.name.endswith(f"-{kind}.png")]
        for kind in ("refuse", "prompt", "allow")
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for source, name in [
        (refusals[0], "refuse"),
        (prompts[0], "override-reasons"),
        (allowed[1], "override-allowed"),
        (refusals[1], "clock-fault"),
        (prompts[1], "unlocked"),
    ]:
        shutil.copy(source, ARTIFACTS / f"scanner-window-{name}.png")
    with Image.open(refusals[1]) as fault:
        r, g, b = BACKGROUNDS["refuse"]
        assert fault.getpixel((10, 700)) == (r, g, b)
