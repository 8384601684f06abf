"""The checkpoint-scanner commands against a loopback gate-server stub."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from passes import Direction
from scanner.cli import cli
from scanner.journal import CrossingEntry, Journal
from tests.scanner.fakes import Community, ServerStub


@pytest.fixture
def community() -> Community:
    return Community(now=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def server(community: Community) -> Iterator[tuple[str, ServerStub]]:
    stub = ServerStub(community)
    url, http = stub.serve()
    yield url, stub
    http.shutdown()
    http.server_close()


def _enroll(runner: CliRunner, url: str, data: Path) -> None:
    result = runner.invoke(
        cli, ["enroll", "--server", url, "--code", "GOOD-CODE", "--data-dir", str(data)]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", [[], ["enroll"], ["run"], ["status"], ["sync"], ["decode"]])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output or "example" in result.output


def test_enroll_stores_the_token_in_a_private_file_and_fetches_the_bundle(
    server: tuple[str, ServerStub], tmp_path: Path
) -> None:
    url, _ = server
    runner = CliRunner()
    _enroll(runner, url, tmp_path)
    device_file = tmp_path / "device.json"
    assert stat.S_IMODE(device_file.stat().st_mode) == 0o600
    assert json.loads(device_file.read_text())["token"] == ServerStub.TOKEN
    status = runner.invoke(cli, ["status", "--json", "--data-dir", str(tmp_path)])
    report = json.loads(status.output)
    assert report["bundle_version"] == "b1"
    assert report["degraded"] is False
    assert report["counts"] == {"unsent": 0, "sent": 0, "dead": 0}


def test_enroll_with_a_wrong_code_fails_with_a_message(
    server: tuple[str, ServerStub], tmp_path: Path
) -> None:
    url, _ = server
    result = CliRunner().invoke(
        cli, ["enroll", "--server", url, "--code", "NOPE", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "bad_code" in result.output
    assert not (tmp_path / "device.json").exists()


def test_run_with_a_wedge_scanner_decides_online_and_journals(
    server: tuple[str, ServerStub], community: Community, tmp_path: Path
) -> None:
    url, stub = server
    runner = CliRunner()
    _enroll(runner, url, tmp_path)
    result = runner.invoke(
        cli,
        ["run", "--wedge", "--headless", "--thermometer", "fixed:36.5", "--direction", "out",
         "--data-dir", str(tmp_path)],
        input=community.passes[1] + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert line["kind"] == "allow"
    assert line["label"] == "3-2-401 张*"
    assert len(stub.scans) == 1
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.counts() == {"unsent": 0, "sent": 1, "dead": 0}


def test_sync_uploads_and_status_lists_dead_letters(
    server: tuple[str, ServerStub], tmp_path: Path
) -> None:
    url, stub = server
    runner = CliRunner()
    _enroll(runner, url, tmp_path)
    ids = []
    with Journal(tmp_path / "journal.db") as journal:
        for _ in range(3):
            entry = CrossingEntry(
                id=str(uuid.uuid4()), pass_text="CP1:X", direction=Direction.OUT,
                temperature=365, scanned_at=datetime.now(UTC), verdict={"allowed": True},
                offline=True, household_id=1,
            )  # fmt: skip
            journal.record(entry)
            ids.append(entry.id)
    stub.reject.add(ids[2])

    result = runner.invoke(cli, ["sync", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    status = runner.invoke(cli, ["status", "--lang", "en", "--data-dir", str(tmp_path)])
    assert "Unsent: 0" in status.output
    assert "Dead: 1" in status.output
    assert ids[2] in status.output


def test_sync_without_a_reachable_server_exits_1_and_keeps_everything(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        journal.record(
            CrossingEntry(
                id=str(uuid.uuid4()), pass_text="CP1:X", direction=Direction.OUT,
                temperature=365, scanned_at=datetime.now(UTC), verdict={"allowed": True},
                offline=True,
            )
        )  # fmt: skip
    result = CliRunner().invoke(
        cli, ["sync", "--server", "http://127.0.0.1:9", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.counts()["unsent"] == 1


def test_status_of_a_fresh_device_says_not_enrolled(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--lang", "en", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "not enrolled" in result.output
    assert "Bundle: none" in result.output
