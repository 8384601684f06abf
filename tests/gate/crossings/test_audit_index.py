"""Audit at scale: the office's queries reach their partial indexes (PostgreSQL plans), the
per-hour counts agree on both databases, and the fast CSV export is byte for byte the
reference built from ``export_cells``/``cell_text`` (SQLite: Python labels; PostgreSQL: the
cells made by the server)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from test_audit_chain import Site, make_site

from gate.crossings.export import (
    HEADERS,
    _cells,
    cell_text,
    export_crossings,
    export_query,
    stream_export,
)
from gate.crossings.log_filters import LogFilter
from gate.crossings.models import Crossing
from gate.crossings.queries import (
    conflicts,
    conflicts_statement,
    crossings_per_hour,
    fever_alerts,
    fever_condition,
    local_day_bounds,
    refused_by_code,
    refused_statement,
)
from gate.devices.models import Gate
from gate.households.models import Member
from passes import Direction

BERLIN = "Europe/Berlin"
# 2026-10-25 01:00 UTC: Berlin falls back from CEST (+2) to CET (+1).
FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)


def _row(site: Site, i: int, at: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "client_id": str(uuid.UUID(int=i + 1, version=4)),
        "community_id": site.community.id,
        "gate_id": site.gates[i % len(site.gates)].id,
        "household_id": site.households[i % len(site.households)].id,
        "direction": Direction.OUT if i % 2 else Direction.IN,
        "scanned_at": at,
        "recorded_at": at,
        "temperature_tenths": 360 + i % 10,
        "allowed": True,
        "code": None,
        "codes": "",
        "flags": "",
        "rule_version": 3,
        "operator": "志愿者",
        "gate_seq": 10_000 + i,
        "prev_hash": "0" * 64,
        "row_hash": f"{i:064x}",
    }
    row.update(values)
    return row


def _tricky_rows(site: Site) -> list[dict[str, Any]]:
    """Every kind of cell: formulas, odd names, unknown codes, no household, no temperature,
    negative temperature, late returns, conflicts, overrides, times across a DST change."""
    special: list[dict[str, Any]] = [
        {"operator": '=HYPERLINK("x")', "override_supervisor": "+86", "override_reason": "-1"},
        {"operator": "@SUM(A1)", "override_reason": '换行\n和,逗号"引号'},
        {"operator": "\tx", "override_reason": "\rx", "temperature_tenths": None},
        {"operator": None, "temperature_tenths": -5, "household_id": None},
        {"allowed": False, "code": "fever", "codes": "fever", "temperature_tenths": 381},
        {"allowed": False, "code": "quota", "codes": "quota", "conflict": True},
        {"allowed": False, "code": "made_up_code", "codes": "made_up_code", "offline": True},
        {"allowed": False, "code": "rejected_upload", "rejected": True},
        {"allowed": True, "code": "returned_late", "flags": "returned_late offline"},
        {"flags": "x returned_lately", "conflict_with_id": 1, "temperature_tenths": 0},
        {"code": "", "operator": ""},
    ]
    start = FALL_BACK - timedelta(hours=2)
    rows = []
    for i in range(60):
        values = special[i] if i < len(special) else {}
        rows.append(_row(site, i, start + timedelta(minutes=7 * i, seconds=i), **values))
    return rows


@pytest.fixture
def tricky_site(db_session: Session) -> Site:
    site = make_site(db_session, gates=3, households=4)
    heads = ["张三丰", "=坏", "", "李"]
    for household, name in zip(site.households, heads, strict=True):
        db_session.execute(
            update(Member)
            .where(Member.household_id == household.id, Member.is_head.is_(True))
            .values(name=name)
        )
    db_session.execute(update(Gate).where(Gate.id == site.gates[1].id).values(name=""))
    db_session.execute(update(Gate).where(Gate.id == site.gates[2].id).values(name="-东门"))
    db_session.execute(insert(Crossing), _tricky_rows(site))
    db_session.flush()
    db_session.expunge_all()
    return site


def _reference(session: Session, log_filter: LogFilter, *, unmasked: bool) -> bytes:
    """The export as ``export_cells`` and ``cell_text`` define it, written row by row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADERS)
    for cells in _cells(session, log_filter, unmasked=unmasked):
        writer.writerow([cell_text(value) for value in cells])
    return buffer.getvalue().encode("utf-8")


@pytest.mark.parametrize("unmasked", [False, True])
def test_fast_csv_export_is_byte_for_byte_the_reference(
    db_session: Session, tricky_site: Site, unmasked: bool
) -> None:
    days = LogFilter(
        community_id=tricky_site.community.id,
        timezone=BERLIN,
        date_from=date(2026, 10, 24),
        date_to=date(2026, 10, 26),
    )
    expected = _reference(db_session, days, unmasked=unmasked)
    assert expected.count(b"\n") > 60  # every row, one with a line break in a cell

    out = io.BytesIO()
    written = export_crossings(db_session, days, fmt="csv", out=out, unmasked=unmasked)
    streamed = b"".join(stream_export(db_session, days, fmt="csv", unmasked=unmasked))

    assert written == 60
    assert out.getvalue() == expected
    assert streamed == expected


def test_fast_csv_export_of_nothing_is_the_header(db_session: Session, tricky_site: Site) -> None:
    empty = LogFilter(community_id=tricky_site.community.id, timezone=BERLIN, gate_id=-1)
    out = io.BytesIO()
    assert export_crossings(db_session, empty, fmt="csv", out=out) == 0
    assert out.getvalue() == _reference(db_session, empty, unmasked=False)


def test_audit_queries_answer_from_the_partial_indexes(
    db_session: Session, tricky_site: Site
) -> None:
    community = tricky_site.community.id
    start, end = local_day_bounds(date(2026, 10, 25), BERLIN)
    assert dict(refused_by_code(db_session, community, start, end)) == {
        "fever": 1,
        "quota": 1,
        "made_up_code": 1,
        "rejected_upload": 1,
    }
    assert [
        alert.temperature_tenths
        for alert in fever_alerts(db_session, community, date(2026, 10, 25), BERLIN)
    ] == [381]
    assert len(conflicts(db_session, community)) == 2
    hours = crossings_per_hour(db_session, community, start, end, BERLIN)
    assert len(hours) == 25  # the fall-back day has 25 local hours
    assert sum(h.total + h.refused for h in hours) == 60

    if db_session.get_bind().dialect.name != "postgresql":
        return
    # A partial index is usable only when the query's filter implies its predicate: with
    # sequential scans off and no other index to take, the plan names the index exactly
    # when it does.
    # The other indexes on these columns go for this transaction (DDL rolls back with it).
    connection = db_session.connection()
    for other in _COMPETING:
        connection.exec_driver_sql(f"DROP INDEX {other}")
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    fever = select(Crossing.id).where(
        Crossing.community_id == community,
        Crossing.scanned_at >= start,
        Crossing.scanned_at < end,
        fever_condition(),
    )
    for statement, index in [
        (refused_statement(community, start, end), "ix_crossings_refused"),
        (fever, "ix_crossings_fever"),
        (conflicts_statement(community, reviewed=False, limit=500), "ix_crossings_conflicts"),
    ]:
        assert index in _plan(db_session, statement)


_COMPETING = (
    "ix_crossings_community_id_scanned_at",
    "ix_crossings_community_id_allowed_code",
    "ix_crossings_community_id_conflict_scanned_at",
    "ix_crossings_household_id_scanned_at",
)


def _plan(session: Session, statement: Any) -> str:
    """EXPLAIN of ``statement`` with its parameters bound as the driver gets them."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    processors: dict[str, Any] = dict(compiled._bind_processors)
    for key, processor in processors.items():
        if params.get(key) is not None:
            params[key] = processor(params[key])
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), params)
    return "\n".join(row[0] for row in rows)


def test_export_query_is_still_the_xlsx_source(db_session: Session, tricky_site: Site) -> None:
    days = LogFilter(community_id=tricky_site.community.id, timezone=BERLIN)
    assert len(db_session.execute(export_query(days)).all()) == 60
