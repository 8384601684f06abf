"""The ``checkpoint-scanner`` command: the process at the gate.

Commands: ``enroll`` (get a device token), ``run`` (the scan loop), ``status``, ``sync``, and
``decode`` (what the decoder reads in image files). Every command takes ``--data-dir``
(default ``~/.local/share/checkpoint-scanner``, env ``CHECKPOINT_SCANNER_DATA``).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click

from passes import Direction
from scanner.decode_command import decode_command
from scanner.device import (
    JOURNAL_FILE,
    DeviceConfig,
    DeviceConfigError,
    default_data_dir,
    ensure_data_dir,
    load_device,
    save_device,
)
from scanner.journal import Journal, JournalFault

log = logging.getLogger(__name__)


def _data_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        envvar="CHECKPOINT_SCANNER_DATA",
        help="Where the device token and journal live (default ~/.local/share/checkpoint-scanner).",
    )(func)


def _dir(data_dir: Path | None) -> Path:
    return ensure_data_dir(data_dir or default_data_dir())


def _open_journal(data_dir: Path) -> Journal:
    try:
        return Journal(data_dir / JOURNAL_FILE)
    except JournalFault as exc:
        raise click.ClickException(f"本地记录库无法打开 / cannot open the journal: {exc}") from exc


def _device(data_dir: Path) -> DeviceConfig | None:
    try:
        return load_device(data_dir)
    except DeviceConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(
    help=(
        "Checkpoint scanner: reads passes at the gate and shows the verdict.\n\n"
        "Example: checkpoint-scanner run --camera 0"
    )
)
def cli() -> None:
    """Root command group."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@cli.command(
    help=(
        "Register this device with the gate server using a one-time code from the office,"
        " and store its token (file mode 0600).\n\n"
        "\b\nExample:\n"
        "  checkpoint-scanner enroll --server https://gate.example.org --code 7K3P-Q9XM"
    )
)
@click.option("--server", required=True, help="Base URL of the gate server.")
@click.option("--code", required=True, help="One-time enrolment code shown in the office UI.")
@click.option("--name", default=None, help="Device name (default: this machine's host name).")
@_data_dir_option
def enroll(server: str, code: str, name: str | None, data_dir: Path | None) -> None:
    """Enrol and fetch a first bundle."""
    from scanner.api_client import ApiClient, ApiError
    from scanner.sync import refresh_bundle

    directory = _dir(data_dir)
    try:
        with ApiClient(server) as client:
            answer = client.enroll(code, name or socket.gethostname())
        config = DeviceConfig.from_enrollment(server, answer)
    except (ApiError, DeviceConfigError) as exc:
        raise click.ClickException(f"登记失败 / enrolment failed: {exc}") from exc
    path = save_device(directory, config)
    click.echo(f"已登记 / enrolled: gate {config.gate_code} {config.gate_name} -> {path}")
    with ApiClient(config.server, config.token) as client, _open_journal(directory) as journal:
        result = refresh_bundle(client, journal)
    click.echo(f"数据包 / bundle: {result.outcome} {result.version or result.error or ''}")


@cli.command(
    help=(
        "Scan passes at the gate: frames from a camera, video or image files, and a wedge"
        " scanner (a device, or typing into the window); temperature; verdict in a full-screen"
        " window (JSON lines with --headless). Decides offline from the cached bundle when the"
        " server does not answer in time. In the window: type the temperature (365 = 36.5),"
        " o/i or left/right choose the direction, and after a refusal a supervisor card opens"
        " the override reasons (keys 1-4).\n\n"
        "\b\nExamples:\n"
        "  checkpoint-scanner run --camera 0 --thermometer prompt --direction out\n"
        "  checkpoint-scanner run --camera 0 --wedge /dev/ttyACM0"
        " --thermometer serial:/dev/ttyUSB0\n"
        "  checkpoint-scanner run --images cards/ --headless --thermometer fixed:36.5"
    )
)
@click.option("--camera", default=None, help="Camera index or device path.")
@click.option("--video", type=click.Path(dir_okay=False), default=None, help="Video file.")
@click.option("--images", multiple=True, help="Image file or folder (repeatable; more may follow).")
@click.option(
    "--wedge",
    is_flag=False,
    flag_value="-",
    default=None,
    help="Wedge scanner device beside the camera (- stdin). One typing into the window needs none.",
)
@click.argument("more_images", nargs=-1, type=click.Path())
@click.option("--repeat", default=1, show_default=True, help="Frames per image (--images).")
@click.option(
    "--thermometer",
    default="prompt",
    show_default=True,
    help="serial:/dev/ttyUSB0[:9600], prompt or fixed:36.5",
)
@click.option(
    "--direction",
    type=click.Choice(["out", "in"]),
    default=None,
    help="Fix the direction; without it keys choose (o/left out, i/right in).",
)
@click.option("--headless", is_flag=True, help="No window: one JSON line per verdict on stdout.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--server", default=None, help="Gate server URL (default: the enrolled one).")
@click.option("--offline", is_flag=True, help="Never ask the server (decide from the bundle).")
@click.option("--operator", default=None, help="Name of the volunteer on duty (recorded).")
@click.option(
    "--hold",
    default=3.0,
    show_default=True,
    help="Seconds a verdict stays on screen (unless the next scan comes first).",
)
@click.option(
    "--screenshot-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each screen shown as a PNG here (support, tests).",
)
@click.option(
    "--max-bundle-age",
    default=24.0,
    show_default=True,
    help="Hours before offline decisions go degraded (allow -> stale_bundle).",
)
@_data_dir_option
def run(**options: Any) -> None:
    """Build the scanner from the options and run it until the source ends."""
    from scanner.runner import RunOptions, run_scanner

    directory = _dir(options.pop("data_dir"))
    images = (*options.pop("images"), *options.pop("more_images"))
    direction = options.pop("direction")
    opts = RunOptions(
        images=images,
        direction=None if direction is None else Direction(direction),
        max_bundle_age=timedelta(hours=options.pop("max_bundle_age")),
        **options,
    )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run_scanner(opts, directory, _device(directory))
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@cli.command(
    help=(
        "Show the journal (unsent / sent / dead), bundle age and version, clock offset to the"
        " server and the last sync result; lists dead-letter crossings.\n\n"
        "Example: checkpoint-scanner status --lang en"
    )
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--max-bundle-age", default=24.0, show_default=True, help="Hours.")
@_data_dir_option
def status(as_json: bool, lang: str, max_bundle_age: float, data_dir: Path | None) -> None:
    """Print the status report."""
    from scanner.status import collect_status, format_status
    from scanner.sync import ServerClock

    directory = _dir(data_dir)
    with _open_journal(directory) as journal:
        report = collect_status(
            journal,
            _device(directory),
            now=ServerClock(journal)(),
            max_bundle_age=timedelta(hours=max_bundle_age),
        )
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_status(report, lang))


@cli.command(
    help=(
        "Upload unsent crossings now and refresh the bundle; exit code 1 if the server could"
        " not be reached.\n\nExample: checkpoint-scanner sync"
    )
)
@click.option("--server", default=None, help="Gate server URL (default: the enrolled one).")
@_data_dir_option
def sync(server: str | None, data_dir: Path | None) -> None:
    """One upload round and a bundle refresh."""
    from scanner.api_client import ApiClient
    from scanner.sync import Uploader, refresh_bundle

    directory = _dir(data_dir)
    device = _device(directory)
    url = server or (device.server if device else None)
    if url is None:
        raise click.ClickException("设备未登记，请先 enroll / not enrolled: run enroll first")
    token = device.token if device else None
    with _open_journal(directory) as journal, ApiClient(url, token) as client:
        report = Uploader(client, journal, now=lambda: datetime.now(UTC)).upload_pending()
        refreshed = refresh_bundle(client, journal)
    click.echo(
        f"sent {report.sent}, duplicate {report.duplicates}, dead {report.dead},"
        f" unsent {report.remaining}; bundle {refreshed.outcome}"
    )
    if report.error or refreshed.error:
        click.echo(f"error: {report.error or refreshed.error}", err=True)
        sys.exit(1)


@cli.command(
    help=(
        "Delete synced crossings scanned before a day (and the household states no other"
        " crossing needs), then compact the journal file so the data is gone from the disk."
        " Crossings not yet synced are never deleted: run sync first. Use it when the office"
        " lets the data go (the community's retention after the lockdown).\n\n"
        "Example: checkpoint-scanner purge --before 2026-12-01"
    )
)
@click.option(
    "--before",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Delete synced crossings scanned before this day (UTC midnight).",
)
@_data_dir_option
def purge(before: datetime, data_dir: Path | None) -> None:
    """Delete synced crossings before a day and compact the journal."""
    directory = _dir(data_dir)
    with _open_journal(directory) as journal:
        size = journal.path.stat().st_size
        deleted = journal.purge(before.replace(tzinfo=UTC))
        left = journal.counts()
        now_size = journal.path.stat().st_size
    click.echo(
        f"已删除已上传记录 {deleted} 条 / deleted {deleted} synced crossings;"
        f" 未上传 {left['unsent']} 条保留 / {left['unsent']} unsent kept;"
        f" {size} -> {now_size} bytes"
    )


cli.add_command(decode_command, "decode")


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
