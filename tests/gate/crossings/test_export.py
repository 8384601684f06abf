"""Exporting the crossing log: CSV and XLSX round trips, masking, formula neutralisation,
local times, filters, bounded memory, and the audited command."""

from __future__ import annotations

import csv
import io
import json
import random
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from factories import make_gate, make_user
from openpyxl import load_workbook
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

# The site builder (community, registered key, gates, households with signed passes) and the
# record_scan helper are shared with the audit tests.
from test_audit_chain import Site, make_site, scan

from gate.accounts.models import Role
from gate.accounts.passwords import hash_password
from gate.audit.models import AuditEvent
from gate.cli.crossings import crossings_group
from gate.crossings.export import HEADERS, Format, export_crossings, neutralise
from gate.crossings.log_filters import LogFilter, count_log
from gate.crossings.models import Crossing
from gate.db import session_factory, transaction
from gate.households.models import Member
from passes import Direction

SHANGHAI = "Asia/Shanghai"
DAY = date(2026, 11, 1)
FORMULA = '=HYPERLINK("http://evil","x")'


def name_head(session: Session, site: Site, index: int, name: str) -> None:
    household = site.households[index]
    head = session.scalar(
        select(Member).where(Member.household_id == household.id, Member.is_head.is_(True))
    )
    assert head is not None
    head.name = name
    session.flush()


@pytest.fixture
def day_site(db_session: Session) -> Site:
    """Three crossings on local 2026-11-01 (one just after local midnight), one the day after."""
    site = make_site(db_session, gates=2)
    name_head(db_session, site, 0, "张三丰")
    first, second = site.households[0], site.households[1]
    # 2026-10-31 16:30 UTC is 2026-11-01 00:30 in Shanghai.
    scan(db_session, site, second, Direction.OUT, datetime(2026, 10, 31, 16, 30, tzinfo=UTC))
    scan(db_session, site, first, Direction.OUT, datetime(2026, 11, 1, 0, 30, tzinfo=UTC))
    scan(
        db_session,
        site,
        first,
        Direction.OUT,
        datetime(2026, 11, 1, 1, 0, tzinfo=UTC),
        operator=FORMULA,
        temperature=378,
    )
    scan(db_session, site, first, Direction.IN, datetime(2026, 11, 1, 16, 30, tzinfo=UTC))
    return site


def day_filter(site: Site, **filters: Any) -> LogFilter:
    """Local day ``DAY`` of the site's community, narrowed by ``filters``."""
    days: dict[str, Any] = {"date_from": DAY, "date_to": DAY}
    return LogFilter(community_id=site.community.id, timezone=SHANGHAI, **(days | filters))


def run_export(
    session: Session, site: Site, fmt: Format, *, unmasked: bool = False, **filters: Any
) -> bytes:
    out = io.BytesIO()
    export_crossings(session, day_filter(site, **filters), fmt=fmt, out=out, unmasked=unmasked)
    return out.getvalue()


def test_csv_has_a_bom_chinese_headers_local_times_and_masked_names(
    db_session: Session, day_site: Site
) -> None:
    data = run_export(db_session, day_site, "csv")

    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(HEADERS)
    assert [r[0] for r in rows[1:]] == [
        "2026-11-01 00:30:00",
        "2026-11-01 08:30:00",
        "2026-11-01 09:00:00",
    ]
    allowed, fever = rows[2], rows[3]
    code = day_site.households[0].code
    gate = day_site.gates[0]
    assert allowed[1:11] == [
        gate.name,
        gate.code,
        "外出",
        "out",
        code,
        "张**",
        "36.5",
        "通过",
        "",
        "",
    ]
    assert fever[7:11] == ["37.8", "禁止", "体温异常，请留观并联系医护人员", "fever"]
    assert fever[HEADERS.index("操作员")] == "'" + FORMULA
    crossing = db_session.scalar(
        select(Crossing).where(Crossing.household_id == day_site.households[0].id)
    )
    assert crossing is not None
    assert allowed[HEADERS.index("流水号") : HEADERS.index("哈希") + 1] == [
        str(crossing.gate_seq),
        crossing.row_hash,
    ]
    assert allowed[HEADERS.index("人数")] == "1"


def test_unmasked_export_shows_the_full_name(db_session: Session, day_site: Site) -> None:
    rows = list(
        csv.reader(
            io.StringIO(run_export(db_session, day_site, "csv", unmasked=True).decode("utf-8-sig"))
        )
    )
    assert rows[2][6] == "张三丰"


def test_xlsx_round_trip_with_real_times_numbers_and_no_formulas(
    db_session: Session, day_site: Site
) -> None:
    workbook = load_workbook(io.BytesIO(run_export(db_session, day_site, "xlsx")))
    sheet = workbook.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))

    assert list(rows[0]) == list(HEADERS)
    assert rows[2][0] == datetime(2026, 11, 1, 8, 30)
    assert rows[2][6] == "张**"
    assert rows[3][7] == 37.8
    assert rows[3][HEADERS.index("操作员")] == "'" + FORMULA
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert len(rows) == 4


def test_filters_by_gate_and_household(db_session: Session, day_site: Site) -> None:
    other_gate = day_site.gates[1]
    scan(
        db_session,
        day_site,
        day_site.households[2],
        Direction.OUT,
        datetime(2026, 11, 1, 2, 0, tzinfo=UTC),
        gate=other_gate,
    )

    by_gate = run_export(db_session, day_site, "csv", gate_id=other_gate.id).decode("utf-8-sig")
    by_household = run_export(
        db_session, day_site, "csv", household_code=day_site.households[0].code
    ).decode("utf-8-sig")

    assert [r[2] for r in list(csv.reader(io.StringIO(by_gate)))[1:]] == [other_gate.code]
    assert len(list(csv.reader(io.StringIO(by_household)))) == 1 + 2


@pytest.mark.parametrize(
    ("filters", "rows"),
    [
        ({}, 3),
        ({"direction": Direction.OUT}, 3),
        ({"direction": Direction.IN}, 0),
        ({"verdict": "allowed"}, 2),
        ({"verdict": "refused"}, 1),
        ({"fever_only": True}, 1),
        ({"code": "fever"}, 1),
        ({"household_code": "no-such-household"}, 0),
        ({"offline_only": True}, 0),
        ({"conflict_only": True}, 0),
        ({"date_to": DAY + timedelta(days=1)}, 4),
    ],
)
def test_log_filter_narrows_the_export_and_its_count(
    db_session: Session, day_site: Site, filters: dict[str, Any], rows: int
) -> None:
    data = run_export(db_session, day_site, "csv", **filters).decode("utf-8-sig")

    assert len(list(csv.reader(io.StringIO(data)))) == 1 + rows
    assert count_log(db_session, day_filter(day_site, **filters)) == rows


@pytest.mark.parametrize("text", ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_start_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise("张" + text) == "张" + text


def insert_many(session: Session, site: Site, count: int) -> None:
    """``count`` plain rows (hashes are not chained: this is about export volume)."""
    rng = random.Random(3)
    gate = site.gates[0]
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    for offset in range(0, count, 10_000):
        rows = [
            {
                "client_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "community_id": site.community.id,
                "gate_id": gate.id,
                "household_id": site.households[i % len(site.households)].id,
                "direction": Direction.OUT if i % 2 else Direction.IN,
                "scanned_at": start + timedelta(seconds=i),
                "recorded_at": start + timedelta(seconds=i),
                "temperature_tenths": 360 + i % 10,
                "allowed": True,
                "codes": "",
                "flags": "",
                "rule_version": 1,
                "operator": "志愿者",
                "gate_seq": 1_000 + i,
                "prev_hash": "0" * 64,
                "row_hash": f"{i:064x}",
            }
            for i in range(offset, min(offset + 10_000, count))
        ]
        session.execute(insert(Crossing), rows)


@pytest.mark.parametrize(
    ("fmt", "rows", "limit_mb"),
    [
        ("csv", 50_000, 12),
        # openpyxl allocates per cell, which tracemalloc makes ~20x slower: the 50,000-row
        # XLSX run takes minutes, so the default run checks 5,000 rows (three fetch batches).
        ("xlsx", 5_000, 20),
        pytest.param("xlsx", 50_000, 20, marks=pytest.mark.slow),
    ],
)
def test_export_runs_in_bounded_memory(
    db_session: Session, tmp_path: Path, fmt: Format, rows: int, limit_mb: int
) -> None:
    site = make_site(db_session)
    insert_many(db_session, site, rows)
    days = LogFilter(
        community_id=site.community.id,
        timezone=SHANGHAI,
        date_from=date(2026, 10, 31),
        date_to=date(2026, 11, 2),
    )
    progress: list[int] = []
    db_session.expunge_all()

    tracemalloc.start()
    try:
        with (tmp_path / f"out.{fmt}").open("wb") as out:
            written = export_crossings(
                db_session, days, fmt=fmt, out=out, on_progress=progress.append
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert written == rows
    assert progress[-1] == rows
    # Holding the rows would take well over 100 MB; a stream stays at a few MB.
    assert peak < limit_mb * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_site(
    committed_engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, int]:
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    with transaction(session_factory(committed_engine)) as session:
        site = make_site(session)
        name_head(session, site, 0, "李四")
        scan(session, site, site.households[0], Direction.OUT, datetime(2026, 11, 1, 1, tzinfo=UTC))
        make_user(
            session,
            site.community,
            Role.ADMIN,
            username="admin1",
            password_hash=hash_password(ADMIN_PASSWORD),
        )
        make_user(session, site.community, Role.OFFICE, username="office1")
        make_gate(session, site.community, code="north")
        community_id = site.community.id
    return committed_engine, community_id


ADMIN_PASSWORD = "staple-orbit-lantern"


def _events(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with transaction(session_factory(engine)) as session:
        return [
            (e.action, e.actor, json.loads(e.details_json))
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith("crossings.")
        ]


def test_export_command_writes_the_file_and_audits_masked_and_unmasked_exports(
    cli_site: tuple[Engine, int], tmp_path: Path
) -> None:
    engine, _ = cli_site
    runner = CliRunner()
    masked, full = tmp_path / "m.csv", tmp_path / "full.xlsx"
    base = ["export", "--from", "2026-11-01", "--to", "2026-11-01"]

    result = runner.invoke(crossings_group, [*base, "--format", "csv", "--out", str(masked)])
    no_admin = runner.invoke(
        crossings_group, [*base, "--format", "xlsx", "--out", str(full), "--unmasked"]
    )
    not_admin = runner.invoke(
        crossings_group,
        [*base, "--format", "xlsx", "--out", str(full), "--unmasked", "--as-admin", "office1"],
        input="office1-password\n",
    )
    unmasked = runner.invoke(
        crossings_group,
        [*base, "--format", "xlsx", "--out", str(full), "--unmasked", "--as-admin", "admin1"],
        input=ADMIN_PASSWORD + "\n",
    )
    empty_gate = runner.invoke(
        crossings_group,
        [*base, "--gate", "north", "--format", "csv", "--out", str(tmp_path / "n.csv")],
    )

    assert result.exit_code == 0, result.output
    assert "exporting 1 crossings" in result.stderr
    assert "李*" in masked.read_text("utf-8-sig")
    assert no_admin.exit_code == 2
    assert not_admin.exit_code == 1
    assert "not an admin" in not_admin.output
    assert unmasked.exit_code == 0, unmasked.output
    sheet = load_workbook(full).active
    assert sheet is not None
    assert sheet["G2"].value == "李四"
    assert empty_gate.exit_code == 0
    events = _events(engine)
    assert [(action, actor) for action, actor, _ in events] == [
        ("crossings.export", "cli"),
        ("crossings.export_unmasked", "cli:admin1"),
        ("crossings.export", "cli"),
    ]
    assert events[1][2]["rows"] == 1
    assert events[2][2]["gate"] == "north"
    assert not list(tmp_path.glob(".*.partial"))


def test_export_command_help_has_an_example() -> None:
    for args in ([], ["export"]):
        result = CliRunner().invoke(crossings_group, [*args, "--help"])
        assert result.exit_code == 0
        assert "Example: checkpoint crossings export" in result.output


def test_every_code_column_comes_with_its_chinese_label_before_it() -> None:
    for label, code in (("出入口", "出入口代码"), ("方向", "方向代码"), ("原因", "原因代码")):
        assert HEADERS.index(code) == HEADERS.index(label) + 1
    assert "闸口" not in HEADERS  # one word for gates: 出入口
    assert "卡口" not in HEADERS


def test_every_stored_code_has_a_chinese_reason_in_the_export() -> None:
    from gate.crossings.export import OTHER_REASONS, reason_zh
    from passes import Code

    for code in [*Code, *OTHER_REASONS]:
        text = reason_zh(str(code))
        assert text
        assert text != str(code)
        assert not any("a" <= ch.lower() <= "z" for ch in text), (code, text)
    assert reason_zh(None) == ""
    assert reason_zh("not_a_code") == "not_a_code"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_outsiders_and_cars_are_told_apart_from_households(
    db_session: Session, day_site: Site, fmt: Format
) -> None:
    first = db_session.scalars(select(Crossing).order_by(Crossing.scanned_at)).first()
    assert first is not None
    first.subject, first.plate = "vehicle", "闽C12345"
    db_session.flush()

    data = run_export(db_session, day_site, fmt)

    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(data)).active
        assert sheet is not None
        rows = [["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
    kinds = [(row[HEADERS.index("类别")], row[HEADERS.index("车牌")]) for row in rows[1:]]
    assert kinds == [("车辆", "闽C12345"), ("住户", ""), ("住户", "")]
