"""Assembles the gate process from options: source, decoder, thermometer, decider, journal,
display, sounder, background sync; then runs the scan loop until the source ends.

Without a server (not enrolled and no ``--server``, or ``--offline``) it decides from the
cached bundle only and starts no sync thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
from scanner.display import open_display
from scanner.frames import FrameSourceError, parse_source_spec
from scanner.journal import Journal
from scanner.loop import DirectionChooser, LoopConfig, ScanLoop
from scanner.sound import SilentSounder, Sounder, open_sounder
from scanner.status import banner_text
from scanner.sync import ServerClock, SyncReport, SyncWorker
from scanner.thermometer import FreshReading, Thermometer, ThermometerError, parse_thermometer_spec

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


class _Backlog:
    """Unsent count for the scan client's header, updated by the sync thread (advisory)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __call__(self) -> int:
        return self.value


def _thermometer(spec: str) -> Thermometer:
    try:
        thermometer = parse_thermometer_spec(spec)
    except ThermometerError as exc:
        raise click.ClickException(str(exc)) from exc
    return FreshReading(thermometer) if spec.startswith("serial:") else thermometer


def run_scanner(opts: RunOptions, data_dir: Path, device: DeviceConfig | None) -> None:
    """Run until the frame source ends (or KeyboardInterrupt)."""
    try:
        spec = parse_source_spec(
            camera=opts.camera,
            video=opts.video,
            images=list(opts.images) or None,
            wedge=opts.wedge,
            repeat=opts.repeat,
        )
        source = spec.open()
    except FrameSourceError as exc:
        raise click.ClickException(str(exc)) from exc
    server = None if opts.offline else (opts.server or (device.server if device else None))
    token = device.token if device else None
    journal_path = data_dir / JOURNAL_FILE
    with ExitStack() as stack:
        stack.callback(source.close)
        journal = stack.enter_context(Journal(journal_path))
        backlog = _Backlog(journal.counts()["unsent"])
        client = None
        if server is None:
            log.warning("no server configured: deciding offline from the cached bundle only")
        else:
            client = stack.enter_context(ApiClient(server, token, backlog=backlog))
        thermometer = _thermometer(opts.thermometer)
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
        display = open_display(headless=opts.headless)
        stack.callback(display.close)
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
            config=LoopConfig(hold_s=opts.hold, lang=opts.lang, operator=opts.operator),
            banner=lambda: banner_text(decider.online, bundles.current(), now(), opts.lang),
        )
        try:
            loop.run(source)
        except FrameSourceError as exc:
            raise click.ClickException(str(exc)) from exc
