"""The gate screen: colours, real Chinese glyphs, font fallback, backends; the verdict sounds."""

from __future__ import annotations

import io
import json
import logging
import shutil
import sys
import time
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from scanner import display
from scanner.display import (
    BACKGROUNDS,
    CJK_FONT_CANDIDATES,
    Screen,
    find_cjk_font,
    render_screen,
)
from scanner.sound import SOUNDS, CommandSounder, SilentSounder, open_sounder, tones_to_wav
from scanner.window import (
    DisplayUnavailable,
    HeadlessDisplay,
    ScreenshotDisplay,
    TkDisplay,
    open_display,
    tk_key_name,
)

NO_FONTS: tuple[tuple[Path, int], ...] = ()
needs_cjk_font = pytest.mark.skipif(
    find_cjk_font() is None, reason="no CJK font installed (fonts-wqy-microhei / fonts-noto-cjk)"
)


def _dominant_bgr(image: npt.NDArray[np.uint8]) -> tuple[int, int, int]:
    packed = image.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
    values, counts = np.unique(packed, return_counts=True)
    top = int(values[counts.argmax()])
    return top >> 16, (top >> 8) & 0xFF, top & 0xFF


def _differs_from_background(image: npt.NDArray[np.uint8], kind: str) -> int:
    r, g, b = BACKGROUNDS[kind]  # type: ignore[index]
    return int(np.any(image != np.array([b, g, r], np.uint8), axis=2).sum())


@pytest.mark.parametrize("kind", ["allow", "refuse", "remeasure", "idle", "fault"])
def test_each_kind_fills_the_screen_with_its_colour_and_draws_text(kind: str) -> None:
    screen = Screen(kind, reason="原因", label="3-2-401 张*", temperature="36.5℃")  # type: ignore[arg-type]

    image = render_screen(screen, (640, 360))

    assert image.shape == (360, 640, 3)
    assert image.dtype == np.uint8
    r, g, b = BACKGROUNDS[screen.kind]
    assert _dominant_bgr(image) == (b, g, r)
    assert _differs_from_background(image, kind) > 0.03 * 640 * 360


def test_kind_colours_match_the_design() -> None:
    assert BACKGROUNDS["allow"] == (0x1B, 0x8A, 0x3A)
    assert BACKGROUNDS["refuse"] == (0xC6, 0x28, 0x28)
    assert BACKGROUNDS["remeasure"] == (0xF9, 0xA8, 0x25)


def test_empty_headline_gets_the_default_for_kind_and_language() -> None:
    assert Screen("allow").headline == "通过"
    assert Screen("refuse", lang="en").headline == "REFUSED"
    assert Screen("idle").headline == "请出示出入证"
    assert Screen("fault", headline="存储故障").headline == "存储故障"
    with pytest.raises(ValueError, match="kind"):
        Screen("maybe")  # type: ignore[arg-type]


@needs_cjk_font
def test_chinese_headline_is_drawn_with_real_glyphs() -> None:
    jinzhi = render_screen(Screen("refuse", headline="禁止"), (640, 360))
    tongguo = render_screen(Screen("refuse", headline="通过"), (640, 360))
    tofu = render_screen(Screen("refuse", headline="\ue000\ue001"), (640, 360))  # no glyphs

    ink = _differs_from_background(jinzhi, "refuse")
    assert ink > _differs_from_background(tofu, "refuse") + 2000
    assert int(np.any(jinzhi != tongguo, axis=2).sum()) > 2000


def test_missing_cjk_font_falls_back_to_latin_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    display._fonts_for.cache_clear()
    screen = Screen("refuse", reason="原因", online=False)
    with caplog.at_level(logging.WARNING, logger="scanner.display"):
        first = render_screen(screen, (640, 360), font_candidates=NO_FONTS)
        render_screen(screen, (640, 360), font_candidates=NO_FONTS)
        english = Screen("refuse", lang="en", online=False)
        fallback_english = render_screen(english, (640, 360), font_candidates=NO_FONTS)
    display._fonts_for.cache_clear()

    assert caplog.text.count("no CJK font") == 1
    r, g, b = BACKGROUNDS["refuse"]
    assert _dominant_bgr(first) == (b, g, r)
    # Headline and status strip show "REFUSED" / "OFFLINE" instead of boxes.
    top = slice(0, int(360 * 0.6))
    assert np.array_equal(first[top], fallback_english[top])


def test_offline_banner_changes_the_status_strip() -> None:
    online = render_screen(Screen("allow"), (640, 360))
    offline = render_screen(
        Screen("allow", online=False, banner="离线 · 数据包 12 分钟前"), (640, 360)
    )
    strip = slice(0, int(360 * 0.09))
    assert not np.array_equal(online[strip], offline[strip])
    assert np.array_equal(offline[strip][2, 0], [0, 0, 0])  # black strip when offline
    assert Screen("allow", online=False, lang="en").status_text == "● OFFLINE"


def test_long_text_is_shrunk_to_fit_not_cut() -> None:
    screen = Screen("refuse", reason="很长的原因" * 20)
    image = render_screen(screen, (640, 360))
    row = image[int(360 * 0.64)]
    r, g, b = BACKGROUNDS["refuse"]
    assert np.array_equal(row[0], [b, g, r])
    assert np.array_equal(row[-1], [b, g, r])


def test_headless_display_prints_one_json_line_per_verdict_and_nothing_for_idle() -> None:
    out = io.StringIO()
    headless = HeadlessDisplay(out)

    headless.show(Screen("idle"))
    headless.show(
        Screen(
            "refuse",
            reason="三天一出",
            label="3-2-401 张*",
            next_exit="11月25日起",
            temperature="36.6℃",
            online=False,
            banner="离线 · 数据包 12 分钟前",
        )
    )
    headless.show(Screen("allow", lang="en"))
    headless.close()

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "kind": "refuse",
        "headline": "禁止",
        "reason": "三天一出",
        "label": "3-2-401 张*",
        "next_exit": "11月25日起",
        "temperature": "36.6℃",
        "online": False,
        "banner": "离线 · 数据包 12 分钟前",
    }
    assert "禁止" in lines[0]  # readable UTF-8, not \\u escapes
    assert json.loads(lines[1])["headline"] == "ALLOWED"
    assert headless.poll_key() is None


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="display-server check is Linux only"
)
def test_window_without_a_display_server_is_unavailable_and_falls_back_to_json_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailable, match="DISPLAY"):
        TkDisplay()
    fallback = open_display()
    assert isinstance(fallback, HeadlessDisplay)
    assert fallback.keyboard is False


@pytest.mark.parametrize(
    ("keysym", "char", "name"),
    [
        ("Shift_L", "", None),
        ("Left", "", "left"),
        ("KP_Right", "", "right"),
        ("Return", "\r", "enter"),
        ("KP_Enter", "\r", "enter"),
        ("Linefeed", "\n", "enter"),
        ("BackSpace", "\b", "backspace"),
        ("Escape", "\x1b", "escape"),
        ("KP_5", "5", "5"),
        ("C", "C", "C"),
        ("period", ".", "."),
    ],
)
def test_tk_keys_are_named(keysym: str, char: str, name: str | None) -> None:
    assert tk_key_name(keysym, char) == name


def test_screenshot_display_writes_each_new_screen_once_as_a_png(tmp_path: Path) -> None:
    out = io.StringIO()
    shots = ScreenshotDisplay(HeadlessDisplay(out), tmp_path / "shots", size=(320, 180))
    idle, allow = Screen("idle"), Screen("allow", reason="准予通行", temperature="36.5℃")

    for screen in (idle, idle, allow, allow, idle):
        shots.show(screen)

    names = sorted(p.name for p in (tmp_path / "shots").iterdir())
    assert names == ["0001-idle.png", "0002-allow.png", "0003-idle.png"]
    r, g, b = BACKGROUNDS["allow"]
    with Image.open(tmp_path / "shots" / "0002-allow.png") as png:
        assert png.size == (320, 180)
        assert png.getpixel((5, 170)) == (r, g, b)
    assert len(out.getvalue().splitlines()) == 2  # the inner display printed both verdicts


def test_a_prompt_screen_lists_its_choices_under_a_smaller_headline() -> None:
    plain = render_screen(Screen("prompt", headline="主管放行"), (640, 360))
    listed = render_screen(
        Screen("prompt", headline="主管放行", lines=("1  就医", "2  紧急情况")), (640, 360)
    )
    assert _dominant_bgr(listed) == _dominant_bgr(plain)
    lower_half = listed[250:340]
    assert _differs_from_background(lower_half, "prompt") > 200  # the choices are drawn
    assert _differs_from_background(plain[250:340], "prompt") == 0


def test_font_candidates_cover_common_debian_paths() -> None:
    paths = {str(path) for path, _ in CJK_FONT_CANDIDATES}
    assert "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc" in paths
    assert "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc" in paths


# --- sound -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SOUNDS))
def test_each_sound_is_a_valid_wav_of_the_planned_length(kind: str) -> None:
    data = tones_to_wav(SOUNDS[kind])
    with wave.open(io.BytesIO(data)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
    assert seconds == pytest.approx(sum(d for _, d in SOUNDS[kind]), abs=0.01)


def test_allow_is_short_and_high_refuse_is_long_and_low() -> None:
    allow, refuse = SOUNDS["allow"], SOUNDS["refuse"]
    assert sum(d for _, d in allow) < 0.5 < sum(d for _, d in refuse)
    assert min(f for f, _ in allow if f) > 2 * max(f for f, _ in refuse)
    assert len({tones_to_wav(t) for t in SOUNDS.values()}) == len(SOUNDS)


@pytest.mark.skipif(shutil.which("sleep") is None, reason="needs the sleep command")
def test_command_sounder_plays_without_blocking_and_replaces_the_previous_sound() -> None:
    sounder = CommandSounder(["sleep", "5", "--"])  # a "player" that takes 5 s
    try:
        started = time.monotonic()
        sounder.play("refuse")
        sounder.play("allow")
        sounder.play("idle")  # no sound for idle
        assert time.monotonic() - started < 2
    finally:
        sounder.close()


def test_command_sounder_with_a_missing_player_goes_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sounder = CommandSounder(["/nonexistent/player"])
    with caplog.at_level(logging.WARNING, logger="scanner.sound"):
        sounder.play("allow")
        sounder.play("refuse")
    sounder.close()
    assert caplog.text.count("sound disabled") == 1


def test_open_sounder_never_fails() -> None:
    sounder = open_sounder()
    sounder.play("allow")
    sounder.close()
    SilentSounder().play("refuse")
