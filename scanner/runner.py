"""Assembles the gate process from options: source, decoder, thermometer, decider, journal,
display, sounder, background sync; then runs the scan loop until the source ends.

Without a server (not enrolled and no ``--server``, or ``--offline``) it decides from the
cached bundle only and starts no sync thread.

With a window (the default where a display is reachable) the window is also the keyboard: the
``prompt`` thermometer reads the temperature typed into it, a wedge scanner may type into it,
and the loop gets a tick whenever the sources are quiet so the window stays alive. Image files
and videos are then paced: each verdict stays its ``--hold`` seconds, the last one too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import click

from passes import Direction
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache
from scanner.clock import ClockGuard
from scanner.deciding import Decider, DecidingConfig
from scanner.device import JOURNAL_FILE, DeviceConfig
from scanner.frames import Captured, FrameSourceError, parse_source_spec
from scanner.journal import Journal
from scanner.loop import DirectionChooser, LoopConfig, ScanLoop
from scanner.sound import SilentSounder, Sounder, open_sounder
from scanner.status import banner_text
from scanner.sync import ServerClock, SyncReport, SyncWorker
from scanner.thermometer import (
    FreshReading,
    KeypadThermometer,
    Thermometer,
    ThermometerError,
    parse_thermometer_spec,
)
from scanner.window import Display, open_display

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """The ``run`` command's options, parsed."""

    camera: str | None = None
    video: str | None = None
    images: Sequence[str] = ()
    wedge: str | None = None
    repeat: int = 1
    thermometer: str = "prompt"
    direction: Direction | None = None
    headless: bool = False
    lang: Literal["zh", "en"] = "zh"
    server: str | None = None
    offline: bool = False
    operator: str | None = None
    hold: float = 3.0
    max_bundle_age: timedelta = timedelta(hours=24)
    screenshot_dir: Path | None = None


class _Backlog:
    """Unsent count for the scan client's header, updated by the sync thread (advisory)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __call__(self) -> int:
        return self.value


def _thermometer(spec: str, display: Display) -> Thermometer:
    if spec == "prompt" and display.keyboard:
        return KeypadThermometer()  # typed into the window, read by the loop
    try:
        thermometer = parse_thermometer_spec(spec)
    except ThermometerError as exc:
        raise click.ClickException(str(exc)) from exc
    return FreshReading(thermometer) if spec.startswith("serial:") else thermometer


def run_scanner(opts: RunOptions, data_dir: Path, device: DeviceConfig | None) -> None:
    """Run until the frame source ends, the window is closed (or KeyboardInterrupt)."""
    try:
        spec = parse_source_spec(
            camera=opts.camera,
            video=opts.video,
            images=list(opts.images) or None,
            wedge=opts.wedge,
            repeat=opts.repeat,
            allow_none=not opts.headless,
        )
    except FrameSourceError as exc:
        raise click.ClickException(str(exc)) from exc
    with ExitStack() as stack:
        display = open_display(headless=opts.headless, screenshot_dir=opts.screenshot_dir)
        stack.callback(display.close)
        if not display.keyboard and not spec.finite and spec.camera is None and not spec.wedge:
            raise click.ClickException(
                "没有窗口时请指定 --camera / --video / --images / --wedge"
                " / Without a window choose --camera, --video, --images or --wedge"
            )
        try:
            source = spec.open(ticking=display.keyboard)
        except FrameSourceError as exc:
            raise click.ClickException(str(exc)) from exc
        stack.callback(source.close)
        _run(opts, data_dir, device, display, source, windowed=display.keyboard and spec.finite)


def _run(
    opts: RunOptions,
    data_dir: Path,
    device: DeviceConfig | None,
    display: Display,
    source: Iterable[Captured | None],
    *,
    windowed: bool,
) -> None:
    server = None if opts.offline else (opts.server or (device.server if device else None))
    token = device.token if device else None
    journal_path = data_dir / JOURNAL_FILE
    with ExitStack() as stack:
        journal = stack.enter_context(Journal(journal_path))
        backlog = _Backlog(journal.counts()["unsent"])
        client = None
        if server is None:
            log.warning("no server configured: deciding offline from the cached bundle only")
        else:
            client = stack.enter_context(ApiClient(server, token, backlog=backlog))
        thermometer = _thermometer(opts.thermometer, display)
        stack.callback(thermometer.close)
        bundles = BundleCache(journal)
        now = ServerClock(journal, ttl_s=1.0)  # a new offset from the sync thread is used soon

        def bundle_time() -> datetime | None:
            bundle = bundles.current()
            return None if bundle is None else bundle.generated_at

        decider = Decider(
            client=client,
            bundles=bundles.current,
            local=journal,
            now=now,
            config=DecidingConfig(max_bundle_age=opts.max_bundle_age),
            guard=ClockGuard(journal, bundle_time=bundle_time, max_jump=opts.max_bundle_age),
            offset_ms=now.device_offset_ms,
        )
        if server is not None:

            def on_round(report: SyncReport) -> None:
                backlog.value = report.remaining
                if report.ok:  # the server is back: the next scan asks it again
                    decider.retry_online_now()

            worker = SyncWorker(
                lambda: ApiClient(server, token, backlog=backlog),
                lambda: Journal(journal_path),
                on_round=on_round,
            )
            worker.start()
            stack.callback(worker.stop)
        sounder: Sounder = SilentSounder() if opts.headless else open_sounder()
        stack.callback(sounder.close)
        from scanner.decoding import Decoder

        loop = ScanLoop(
            decoder=Decoder(),
            thermometer=thermometer,
            decider=decider,
            journal=journal,
            display=display,
            sounder=sounder,
            direction=DirectionChooser(
                default=opts.direction or Direction.OUT, keyed=opts.direction is None
            ),
            config=LoopConfig(
                hold_s=opts.hold,
                lang=opts.lang,
                operator=opts.operator,
                temperature_timeout_s=30.0 if isinstance(thermometer, KeypadThermometer) else 10.0,
            ),
            banner=lambda: banner_text(decider.online, bundles.current(), now(), opts.lang),
        )
        try:
            loop.run(source, paced=windowed, linger=windowed)
        except FrameSourceError as exc:
            raise click.ClickException(str(exc)) from exc
