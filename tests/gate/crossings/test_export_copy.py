"""The PostgreSQL CSV export made by ``COPY ... TO STDOUT (FORMAT csv)`` is byte for byte the
Python-formatted export (``export_csv.csv_chunks``) on the same rows: random crossings with
NULLs, commas, quotes, line breaks and formula starts in names and texts, every code, every
类别, offline and conflict flags, over several chunks; also its fallback for a client encoding
other than UTF-8 (a server-side cursor and :mod:`csv`)."""

from __future__ import annotations

import io
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session
from test_audit_chain import Site, make_site

from gate.crossings import export_csv
from gate.crossings.export import (
    DIRECTION_LABELS,
    HEADERS,
    OTHER_REASONS,
    export_crossings,
    reason_zh,
    stream_export,
)
from gate.crossings.log_filters import LogFilter
from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.models import Member
from passes import Code, Direction

TZ = "Asia/Kolkata"  # +05:30: local times off the whole hour
ST_JOHNS = "America/St_Johns"  # -02:30 -> -03:30 at 2026-11-01 04:30 UTC, inside the rows' days
START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
ROWS = export_csv.ROWS_PER_CHUNK * 2 + 137  # two full chunks and a short one

TEXTS = [
    None,
    "",
    "平常",
    "a,b",
    'say "hi"',
    "two\nlines",
    "cr\rhere",
    "crlf\r\nend",
    "=1+1",
    "+86 138",
    "-",
    "@x",
    "\tstart",
    " spaced ",
    '"',
    ",",
    "\\n not a break",
]
SUBJECTS = [None, *export_csv.SUBJECT_LABELS, "drone", "=x", ""]
CODES = [None, "", *(code.value for code in Code), *OTHER_REASONS, "made_up", "=bad"]


def _rows(site: Site, rng: random.Random) -> list[dict[str, Any]]:
    households: list[int | None] = [h.id for h in site.households]
    rows = []
    for i in range(ROWS):
        code = CODES[i % len(CODES)]
        rows.append(
            {
                "client_id": str(uuid.UUID(int=rng.getrandbits(122), version=4)),
                "community_id": site.community.id,
                "gate_id": rng.choice(site.gates).id,
                "household_id": rng.choice([*households, None]),
                "direction": rng.choice([Direction.OUT, Direction.IN]),
                "scanned_at": START + timedelta(seconds=rng.randrange(3 * 86400)),
                "recorded_at": START,
                "temperature_tenths": rng.choice([None, 0, -5, 365, 381, 1000]),
                "allowed": code is None or rng.random() < 0.2,
                "code": code,
                "codes": code or "",
                "flags": rng.choice(["", "returned_late", "offline returned_late", "x"]),
                "offline": rng.random() < 0.3,
                "conflict": rng.random() < 0.2,
                "rule_version": rng.randrange(1, 9),
                "operator": rng.choice(TEXTS),
                "override_supervisor": rng.choice(TEXTS),
                "override_reason": rng.choice(TEXTS),
                "people": rng.choice([1, 2, 5]),
                "subject": SUBJECTS[i % len(SUBJECTS)],
                "plate": rng.choice([None, "", "鲁E12345", "-1"]),
                "gate_seq": i + 1,
                "prev_hash": "0" * 64,
                "row_hash": f"{i:064x}",
            }
        )
    return rows


@pytest.fixture
def random_site(db_session: Session, db_backend: str) -> Site:
    if db_backend != "postgresql":
        pytest.skip("the COPY export is PostgreSQL's")
    rng = random.Random(16)
    site = make_site(db_session, gates=3, households=8)
    heads = ["张,三", '李"四', "王\n五", "", "=坏", "赵", "a\rb", "钱孙李"]
    for household, name in zip(site.households, heads, strict=True):
        db_session.execute(
            update(Member)
            .where(Member.household_id == household.id, Member.is_head.is_(True))
            .values(name=name)
        )
    db_session.execute(update(Gate).where(Gate.id == site.gates[1].id).values(name=""))
    db_session.execute(update(Gate).where(Gate.id == site.gates[2].id).values(name='-东,"门"'))
    db_session.execute(insert(Crossing), _rows(site, rng))
    db_session.flush()
    db_session.expunge_all()
    return site


def _filter(site: Site, zone: str = TZ) -> LogFilter:
    return LogFilter(
        community_id=site.community.id,
        timezone=zone,
        date_from=date(2026, 10, 31),
        date_to=date(2026, 11, 5),
    )


def _python_csv(session: Session, log_filter: LogFilter, *, unmasked: bool) -> bytes:
    """The Python formatter (the SQLite path) on the same PostgreSQL rows."""
    return b"".join(
        export_csv.csv_chunks(
            session,
            log_filter,
            unmasked=unmasked,
            headers=HEADERS,
            reason=reason_zh,
            directions=DIRECTION_LABELS,
        )
    )


@pytest.mark.parametrize(("unmasked", "zone"), [(False, TZ), (True, TZ), (False, ST_JOHNS)])
def test_copy_export_is_byte_for_byte_the_python_export(
    db_session: Session, random_site: Site, unmasked: bool, zone: str
) -> None:
    days = _filter(random_site, zone)
    expected = _python_csv(db_session, days, unmasked=unmasked)
    assert expected.startswith("\ufeff时间,".encode())
    assert expected.count(b"\r\n") > ROWS

    streamed = list(stream_export(db_session, days, fmt="csv", unmasked=unmasked))
    out = io.BytesIO()
    written = export_crossings(db_session, days, fmt="csv", out=out, unmasked=unmasked)

    assert b"".join(streamed) == expected
    assert out.getvalue() == expected
    assert written == ROWS
    assert len(streamed) == 3  # chunks of ROWS_PER_CHUNK rows, the header in the first


def test_copy_export_of_nothing_is_the_bom_and_the_header(
    db_session: Session, random_site: Site
) -> None:
    empty = LogFilter(community_id=random_site.community.id, timezone=TZ, gate_id=-1)
    chunks = list(stream_export(db_session, empty, fmt="csv"))
    assert b"".join(chunks) == _python_csv(db_session, empty, unmasked=False)
    assert len(chunks) == 1


def test_a_client_encoding_other_than_utf8_falls_back_to_the_cursor(
    db_session: Session, random_site: Site
) -> None:
    days = _filter(random_site)
    expected = _python_csv(db_session, days, unmasked=False)
    db_session.execute(text("SET client_encoding TO 'GB18030'"))
    try:
        assert b"".join(stream_export(db_session, days, fmt="csv")) == expected
    finally:
        db_session.execute(text("SET client_encoding TO 'UTF8'"))
