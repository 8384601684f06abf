"""One export writer behind the log page and the command: the same cells, the same sheets and
widths, the same audit event, and no write lock while the rows are read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

# The console fixture (community A with residents and users of every role, and community B)
# and its scan helper are shared with the console tests.
from test_console import Console, _scan_some, console  # noqa: F401 (the fixture)

import gate.crossings.export as export_module
from gate.audit.models import AuditEvent
from gate.cli.crossings import crossings_group
from gate.community.models import Community
from gate.db import transaction
from passes import Direction


def _export_events(site: Console) -> list[AuditEvent]:
    with transaction(site.compound.sessions, read_only=True) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith("crossings.export"))
                .order_by(AuditEvent.id)
            )
        )


def _local_day(site: Console) -> str:
    with transaction(site.compound.sessions, read_only=True) as session:
        community = session.get(Community, site.compound.community_id)
        assert community is not None
        zone = ZoneInfo(community.timezone)
    return site.compound.clock().astimezone(zone).date().isoformat()


def test_cli_and_web_export_each_write_exactly_one_identical_audit_event(
    console: Console,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _scan_some(console)
    day = _local_day(console)
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", console.compound.services.settings.database_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    out = tmp_path / "cli.csv"

    web = console.client("office").get(
        "/log/export", query_string={"fmt": "csv", "date_from": day, "date_to": day}
    )
    after_web = _export_events(console)
    cli = CliRunner().invoke(
        crossings_group,
        [
            "export",
            "--from",
            day,
            "--to",
            day,
            "--format",
            "csv",
            "--out",
            str(out),
            "--community",
            str(console.compound.community_id),
        ],
    )
    after_cli = _export_events(console)

    assert web.status_code == 200
    assert cli.exit_code == 0, cli.output
    assert len(after_web) == 1
    assert len(after_cli) == 2
    web_event, cli_event = after_cli
    assert web_event.action == cli_event.action == "crossings.export"
    assert (web_event.subject_type, web_event.subject_id) == (
        cli_event.subject_type,
        cli_event.subject_id,
    )
    web_details, cli_details = (
        json.loads(web_event.details_json),
        json.loads(cli_event.details_json),
    )
    assert web_details.keys() == cli_details.keys()
    for key in ("from", "to", "gate", "household", "format", "masked", "rows"):
        assert web_details[key] == cli_details[key], key
    assert web_details["rows"] == 4
    assert (web_event.actor, cli_event.actor) == ("a-office", "cli")
    # The same writer: the same bytes, but for nothing at all.
    assert web.get_data() == out.read_bytes()


def test_web_xlsx_sets_column_widths_and_continues_on_a_new_sheet_at_the_row_limit(
    console: Console,  # noqa: F811 (the imported fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _scan_some(console)
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 3)  # header + 2 rows per sheet

    answer = console.client("auditor").get("/log/export", query_string={"fmt": "xlsx"})

    assert answer.status_code == 200
    workbook = load_workbook(io.BytesIO(answer.data))
    assert workbook.sheetnames == ["通行记录", "通行记录2"]
    first, second = workbook["通行记录"], workbook["通行记录2"]
    assert first.max_row == second.max_row == 3
    assert first["A1"].value == second["A1"].value == "时间"
    assert first.column_dimensions["A"].width == 20
    assert first.column_dimensions["T"].width == 66  # the row hash, last column


def test_web_export_reads_without_the_write_lock(
    console: Console,  # noqa: F811 (the imported fixture)
) -> None:
    """A scan is recorded while a CSV download is half sent (on SQLite the write lock would
    make it wait; on PostgreSQL this holds trivially)."""
    for _ in range(3):
        _scan_some(console)
    compound = console.compound
    client = console.client("auditor")

    answer = client.get("/log/export", query_string={"fmt": "csv"}, buffered=False)
    chunks: Iterator[bytes] = iter(answer.response)  # type: ignore[arg-type]
    first = next(chunks)
    scanned = compound.scan(compound.client(), compound.residents[1].pass_text, Direction.IN)
    rest = b"".join(chunks)
    answer.close()

    assert scanned.status_code < 300
    rows = list(csv.reader(io.StringIO((first + rest).decode("utf-8-sig"))))
    assert len(rows) == 1 + 12
