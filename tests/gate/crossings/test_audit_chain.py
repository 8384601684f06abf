"""The crossing log's audit: chain verification, tampering of every kind, signed checkpoints.

Logs are genuine chains: the first crossings of each gate go through ``record_scan`` with
passes signed by a real key, the bulk after them is sealed with ``chain.seal`` row by row
and inserted in one statement (the same hashes record_scan would compute, much faster).
Each tampering runs inside a SAVEPOINT that is rolled back, so all of them share one log.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner
from factories import make_community, make_gate, make_household
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.cli.audit import audit_group
from gate.community.context import load_context
from gate.community.models import Community
from gate.crossings.chain import (
    HASHED_FIELDS,
    HASHED_ORDER,
    OPTIONAL_HASHED_FIELDS,
    content_hash,
    row_hash,
    seal,
)
from gate.crossings.models import Crossing
from gate.crossings.operations import Origin, ScanRequest, record_scan
from gate.db import session_factory, transaction
from gate.devices.models import Gate
from gate.households.models import Household
from gate.issuing.models import IssuedPass
from gate.signing.models import SigningKeyRecord
from gate.signing.operations import create_signing_key
from gate.verification.checkpoints import (
    LogNotIntact,
    signed_message,
    verify_checkpoint,
    write_checkpoint,
)
from gate.verification.log import (
    GATE_HEAD_MISMATCH,
    ROWS_BEYOND_HEAD,
    TAIL_MISSING,
    verify_log,
)
from passes import Direction, KeySet, KeyStatus, Pass, SigningKey, new_pass_id

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
_key_ids = itertools.count(random.randrange(20_000, 60_000))
ROW_COLUMNS = (*HASHED_FIELDS, "prev_hash", "row_hash")


@dataclass
class Site:
    """A community with a registered signing key, gates and households with passes."""

    community: Community
    key: SigningKey
    gates: list[Gate]
    households: list[Household]
    passes: dict[int, str]


def make_site(session: Session, *, gates: int = 1, households: int = 3) -> Site:
    community = make_community(session)
    key = SigningKey.generate(next(_key_ids))
    record = SigningKeyRecord(
        key_id=key.entry.key_id, community_id=community.id, public_key=key.entry.public_key
    )
    session.add(record)
    gate_rows = [make_gate(session, community) for _ in range(gates)]
    rows = [make_household(session, community=community, members=2) for _ in range(households)]
    issued = T0 - timedelta(days=1)
    pass_ids = {row.id: new_pass_id() for row in rows}
    for row in rows:  # issued: the server refuses a pass it never issued (unknown_pass)
        session.add(
            IssuedPass(
                community_id=community.id,
                household=row,
                key_id=record.key_id,
                pass_id=pass_ids[row.id],
                generation=row.generation,
                issued_at=issued,
                valid_until=issued + timedelta(days=90),
            )
        )
    passes = {
        row.id: key.sign(
            Pass(
                key_id=key.entry.key_id,
                pass_id=pass_ids[row.id],
                household_id=row.id,
                community_id=community.id,
                generation=row.generation,
                issued_at=issued,
                valid_until=issued + timedelta(days=90),
            )
        )
        for row in rows
    }
    session.flush()
    return Site(community, key, gate_rows, rows, passes)


def scan(
    session: Session,
    site: Site,
    household: Household,
    direction: Direction,
    at: datetime,
    *,
    gate: Gate | None = None,
    temperature: object = 365,
    operator: str = "志愿者",
) -> Crossing:
    request = ScanRequest(
        client_id=str(uuid.uuid4()),
        pass_text=site.passes[household.id],
        direction=direction,
        temperature=temperature,
        scanned_at=at,
        operator=operator,
        latency_ms=120,
    )
    result = record_scan(
        session,
        context=load_context(session, site.community.id),
        origin=Origin(gate_id=(gate or site.gates[0]).id),
        request=request,
        now=at,
    )
    # record_scan writes with Core: households and gates this session loaded are read afresh.
    session.expire_all()
    crossing = session.get(Crossing, result.crossing_id)
    assert crossing is not None
    return crossing


def bulk_append(
    session: Session, site: Site, gate: Gate, count: int, start: datetime, rng: random.Random
) -> None:
    """Append ``count`` genuine chained rows to ``gate`` in one INSERT; advance the gate row."""
    session.refresh(gate)
    prev_seq, prev_hash = gate.chain_seq, gate.chain_hash
    rows = []
    for i in range(count):
        at = start + timedelta(seconds=41 * i, microseconds=rng.randrange(1_000_000))
        allowed = rng.random() < 0.9
        crossing = Crossing(
            client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            community_id=site.community.id,
            gate_id=gate.id,
            device_id=None,
            user_id=None,
            household_id=rng.choice(site.households).id,
            pass_id=rng.randbytes(12),
            direction=rng.choice((Direction.OUT, Direction.IN)),
            scanned_at=at,
            recorded_at=at + timedelta(milliseconds=150),
            temperature_tenths=rng.randint(355, 372),
            allowed=allowed,
            next_exit_at=None,
            code=None if allowed else "quota",
            codes="" if allowed else "quota",
            flags="",
            rule_version=1,
            operator=rng.choice(("志愿者", "王五", "=cmd|' /C calc'!A0")),
            override_reason=None,
            override_supervisor=None,
            offline=rng.random() < 0.05,
            conflict=False,
            conflict_code=None,
            rejected=False,
            rejection_reason=None,
            latency_ms=rng.randint(50, 400),
        )
        seal(crossing, prev_seq, prev_hash)
        prev_seq, prev_hash = crossing.gate_seq, crossing.row_hash
        rows.append({name: getattr(crossing, name) for name in ROW_COLUMNS})
    session.execute(insert(Crossing), rows)
    gate.chain_seq, gate.chain_hash = prev_seq, prev_hash
    session.flush()


def build_log(session: Session, site: Site, rows_per_gate: int, seed: int = 7) -> None:
    """A few real scans per gate, then ``rows_per_gate`` sealed rows in bulk."""
    rng = random.Random(seed)
    household = site.households[0]
    for n, gate in enumerate(site.gates):
        at = T0 + timedelta(hours=2 + n)
        scan(session, site, household, Direction.OUT, at, gate=gate)
        scan(session, site, household, Direction.IN, at + timedelta(minutes=30), gate=gate)
        scan(session, site, household, Direction.OUT, at + timedelta(hours=1), gate=gate)  # quota
        bulk_append(session, site, gate, rows_per_gate - 3, T0 + timedelta(days=1), rng)


def gate_problem(
    session: Session, site: Site, gate: Gate, *, everything: bool = True
) -> tuple[int, str] | None:
    """``gate``'s first bad row (seq, problem) or None; every other gate MUST verify."""
    gate_ids = None if everything else [gate.id]
    report = verify_log(session, site.community.id, gate_ids=gate_ids)
    for other in report.gates:
        if other.gate_id != gate.id:
            assert other.ok, other
    [mine] = [g for g in report.gates if g.gate_id == gate.id]
    return None if mine.problem is None else (mine.problem.gate_seq, mine.problem.problem)


@pytest.fixture
def small_site(db_session: Session) -> Site:
    site = make_site(db_session, gates=2)
    build_log(db_session, site, rows_per_gate=40)
    return site


# --- verification -------------------------------------------------------------------------------


def test_genuine_log_verifies_with_each_gates_head(db_session: Session, small_site: Site) -> None:
    report = verify_log(db_session, small_site.community.id)

    assert report.ok
    assert report.rows_checked == 80
    for gate_report, gate in zip(report.gates, small_site.gates, strict=True):
        db_session.refresh(gate)
        assert (gate_report.head_seq, gate_report.head_hash) == (gate.chain_seq, gate.chain_hash)


def test_record_scan_chain_of_allowed_and_refused_crossings_verifies(db_session: Session) -> None:
    site = make_site(db_session)
    household = site.households[1]
    scan(db_session, site, household, Direction.OUT, T0 + timedelta(hours=3))
    scan(db_session, site, household, Direction.OUT, T0 + timedelta(hours=4))  # already out
    scan(db_session, site, household, Direction.IN, T0 + timedelta(hours=5), temperature=385)

    report = verify_log(db_session)

    assert report.ok
    [mine] = [g for g in report.gates if g.gate_id == site.gates[0].id]
    assert mine.head_seq == 3


def test_community_filter_only_walks_that_communitys_gates(
    db_session: Session, small_site: Site
) -> None:
    other = make_site(db_session)
    scan(db_session, other, other.households[0], Direction.OUT, T0 + timedelta(hours=3))

    report = verify_log(db_session, other.community.id)

    assert [g.gate_id for g in report.gates] == [other.gates[0].id]


def test_empty_gate_verifies_at_seq_zero(db_session: Session) -> None:
    site = make_site(db_session)
    [gate_report] = verify_log(db_session, site.community.id).gates
    assert gate_report.ok
    assert gate_report.head_seq == 0


def test_gate_row_behind_the_rows_is_reported(db_session: Session, small_site: Site) -> None:
    gate = small_site.gates[0]
    db_session.execute(update(Gate).where(Gate.id == gate.id).values(chain_seq=38))
    assert gate_problem(db_session, small_site, gate) == (38, GATE_HEAD_MISMATCH)


def test_rows_appended_behind_the_servers_back_are_reported(
    db_session: Session, small_site: Site
) -> None:
    gate = small_site.gates[1]
    forge_append(db_session, small_site, gate, fix_gate_row=False)
    assert gate_problem(db_session, small_site, gate) == (41, ROWS_BEYOND_HEAD)


def test_conflict_review_fields_are_outside_the_hash(db_session: Session, small_site: Site) -> None:
    gate = small_site.gates[0]
    db_session.execute(
        update(Crossing)
        .where(Crossing.gate_id == gate.id, Crossing.gate_seq == 5)
        .values(conflict_note="核实：邻居代购", conflict_reviewed_by="office1")
    )
    assert verify_log(db_session, small_site.community.id).ok


# --- tampering ----------------------------------------------------------------------------------


def _row(session: Session, gate: Gate, seq: int) -> dict[str, object]:
    row = session.execute(
        select(*(getattr(Crossing, c) for c in ROW_COLUMNS)).where(
            Crossing.gate_id == gate.id, Crossing.gate_seq == seq
        )
    ).one()
    return dict(row._mapping)


def _at(gate: Gate, seq: int) -> ColumnElement[bool]:
    return (Crossing.gate_id == gate.id) & (Crossing.gate_seq == seq)


EDITS: dict[str, Callable[[dict[str, object], Site], object]] = {
    "temperature_tenths": lambda row, _: int(row["temperature_tenths"] or 0) + 1,  # type: ignore[call-overload]
    "allowed": lambda row, _: not row["allowed"],
    "code": lambda row, _: "forged" if row["code"] != "forged" else None,
    "operator": lambda row, _: "张改",
    "scanned_at": lambda row, _: row["scanned_at"] + timedelta(seconds=1),  # type: ignore[operator]
    "recorded_at": lambda row, _: row["recorded_at"] + timedelta(microseconds=1),  # type: ignore[operator]
    "direction": lambda row, _: (
        Direction.IN if row["direction"] is Direction.OUT else Direction.OUT
    ),
    "household_id": lambda row, site: next(
        h.id for h in site.households if h.id != row["household_id"]
    ),
    "pass_id": lambda row, _: bytes(12),
    "client_id": lambda row, _: str(uuid.uuid4()),
    "offline": lambda row, _: not row["offline"],
    "rule_version": lambda row, _: int(row["rule_version"]) + 1,  # type: ignore[call-overload]
    "latency_ms": lambda row, _: None,
    "codes": lambda row, _: str(row["codes"]) + " fever",
    "override_reason": lambda row, _: "领导同意",
    "row_hash": lambda row, _: "f" * 64 if row["row_hash"] != "f" * 64 else "e" * 64,
    "prev_hash": lambda row, _: "a" * 64,
}


def tamper_edit(
    session: Session, site: Site, gate: Gate, seq: int, rng: random.Random
) -> tuple[int, str | None]:
    name = rng.choice(sorted(EDITS))
    row = _row(session, gate, seq)
    session.execute(update(Crossing).where(_at(gate, seq)).values({name: EDITS[name](row, site)}))
    problem = "prev_hash_mismatch" if name == "prev_hash" else "content_changed"
    return (seq, problem)


def tamper_delete(
    session: Session, site: Site, gate: Gate, seq: int, last: int
) -> tuple[int, str | None]:
    session.execute(delete(Crossing).where(_at(gate, seq)))
    return (seq, "missing_row" if seq < last else TAIL_MISSING)


def _shift_up(session: Session, gate: Gate, from_seq: int) -> None:
    # Two steps so that no intermediate row collides with UNIQUE (gate_id, gate_seq).
    where = (Crossing.gate_id == gate.id) & (Crossing.gate_seq >= from_seq)
    session.execute(update(Crossing).where(where).values(gate_seq=Crossing.gate_seq + 1_000_000))
    session.execute(
        update(Crossing)
        .where((Crossing.gate_id == gate.id) & (Crossing.gate_seq >= 1_000_000))
        .values(gate_seq=Crossing.gate_seq - 999_999)
    )


def forged_row(site: Site, gate: Gate, seq: int, prev_hash: str) -> dict[str, object]:
    at = T0 + timedelta(days=30)
    crossing = Crossing(
        client_id=str(uuid.uuid4()),
        community_id=site.community.id,
        gate_id=gate.id,
        household_id=site.households[0].id,
        direction=Direction.OUT,
        scanned_at=at,
        recorded_at=at,
        temperature_tenths=365,
        allowed=True,
        code=None,
        codes="",
        flags="",
        rule_version=1,
        offline=False,
        conflict=False,
        rejected=False,
    )
    seal(crossing, seq - 1, prev_hash)
    return {name: getattr(crossing, name) for name in ROW_COLUMNS}


def tamper_insert(session: Session, site: Site, gate: Gate, seq: int) -> tuple[int, str | None]:
    """A forged row sealed onto row ``seq - 1``, later rows renumbered to make room."""
    prev_hash = str(_row(session, gate, seq - 1)["row_hash"])
    _shift_up(session, gate, seq)
    session.execute(insert(Crossing), [forged_row(site, gate, seq, prev_hash)])
    return (seq + 1, "prev_hash_mismatch")


def tamper_swap(session: Session, gate: Gate, seq_a: int, seq_b: int) -> tuple[int, str | None]:
    a, b = sorted((seq_a, seq_b))
    session.execute(update(Crossing).where(_at(gate, a)).values(gate_seq=9_000_000))
    session.execute(update(Crossing).where(_at(gate, b)).values(gate_seq=a))
    session.execute(update(Crossing).where(_at(gate, 9_000_000)).values(gate_seq=b))
    return (a, None)  # prev_hash_mismatch or content_changed, both correct


def forge_append(session: Session, site: Site, gate: Gate, *, fix_gate_row: bool) -> None:
    seq, last_hash = session.execute(
        select(Gate.chain_seq, Gate.chain_hash).where(Gate.id == gate.id)
    ).one()
    row = forged_row(site, gate, seq + 1, last_hash)
    session.execute(insert(Crossing), [row])
    if fix_gate_row:
        session.execute(
            update(Gate)
            .where(Gate.id == gate.id)
            .values(chain_seq=seq + 1, chain_hash=row["row_hash"])
        )


def truncate(session: Session, gate: Gate, keep: int, *, fix_gate_row: bool) -> None:
    session.execute(delete(Crossing).where(Crossing.gate_id == gate.id, Crossing.gate_seq > keep))
    if fix_gate_row:
        head = str(_row(session, gate, keep)["row_hash"])
        session.execute(
            update(Gate).where(Gate.id == gate.id).values(chain_seq=keep, chain_hash=head)
        )


def rewrite_from(session: Session, site: Site, gate: Gate, seq: int, last: int) -> None:
    """Edit row ``seq`` and recompute every later hash and the gate row: a consistent forgery."""
    rows = session.execute(
        select(Crossing.id, *(getattr(Crossing, c) for c in ROW_COLUMNS))
        .where(Crossing.gate_id == gate.id, Crossing.gate_seq >= seq)
        .order_by(Crossing.gate_seq)
    ).all()
    prev_hash = str(_row(session, gate, seq - 1)["row_hash"]) if seq > 1 else "0" * 64
    updates = []
    for row in rows:
        values = dict(row._mapping)
        crossing = Crossing(**{name: values[name] for name in HASHED_FIELDS})
        if row.gate_seq == seq:
            crossing.allowed = not crossing.allowed
        new_hash = row_hash(prev_hash, crossing)
        updates.append(
            {"b_id": row.id, "allowed": crossing.allowed, "prev": prev_hash, "hash": new_hash}
        )
        prev_hash = new_hash
    table = cast(Table, Crossing.__table__)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            allowed=bindparam("allowed"), prev_hash=bindparam("prev"), row_hash=bindparam("hash")
        ),
        updates,
    )
    session.execute(
        update(Gate).where(Gate.id == gate.id).values(chain_seq=last, chain_hash=prev_hash)
    )


@contextmanager
def undone(session: Session) -> Iterator[None]:
    """Run the block in a SAVEPOINT and roll it back."""
    savepoint = session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


KINDS = (
    "edit",
    "edit",
    "delete",
    "insert",
    "swap",
    "truncate",
    "append",
    "truncate_fixed",
    "append_fixed",
    "rewrite",
)
"""Weighted: edits are the commonest forgery. ``*_fixed`` and ``rewrite`` also fix the gate
row, which only a checkpoint can catch."""


def test_200_random_tamperings_of_a_10000_row_log_are_each_detected(db_session: Session) -> None:
    site = make_site(db_session, gates=8, households=5)
    per_gate = 1250
    build_log(db_session, site, rows_per_gate=per_gate)
    assert verify_log(db_session, site.community.id).rows_checked == 10_000
    checkpoint = write_checkpoint(db_session, site.key, T0 + timedelta(days=10))
    # One signed checkpoint per gate (same key), so a check walks one gate, not all eight.
    per_gate_checkpoint = {
        entry["gate_id"]: _resign({**checkpoint, "gates": [entry]}, site.key)
        for entry in checkpoint["gates"]
    }
    keys = KeySet((site.key.entry,))
    rng = random.Random(20221122)
    seen: dict[str, int] = {}

    for attempt in range(200):
        kind = rng.choice(KINDS)
        seen[kind] = seen.get(kind, 0) + 1
        gate = rng.choice(site.gates)
        last = per_gate
        seq = rng.randint(2, last)
        with undone(db_session):
            expected = apply_tampering(db_session, site, gate, kind, seq, last, rng)
            found = gate_problem(db_session, site, gate, everything=attempt % 25 == 0)
            problems = verify_checkpoint(db_session, per_gate_checkpoint[gate.id], keys)
            if kind == "append_fixed":  # appending is what the log is for
                assert found is None, attempt
                assert problems == [], attempt
            elif expected is None:
                # Consistent with the gate row: the chain alone cannot tell, the checkpoint can.
                assert found is None, (attempt, kind)
                assert [p.gate_id for p in problems] == [gate.id], (attempt, kind, problems)
            else:
                exp_seq, exp_problem = expected
                assert found is not None, (attempt, kind, expected)
                assert found[0] == exp_seq, (attempt, kind, found, expected)
                if exp_problem is not None:
                    assert found[1] == exp_problem, (attempt, kind, found, expected)
                if kind != "append":  # rows after the checkpoint are not its concern
                    assert [p.gate_id for p in problems] == [gate.id], (attempt, kind)

    assert verify_log(db_session, site.community.id).ok  # every tampering was undone
    assert set(seen) == set(KINDS)


def apply_tampering(
    session: Session, site: Site, gate: Gate, kind: str, seq: int, last: int, rng: random.Random
) -> tuple[int, str | None] | None:
    """Tamper; return the (gate_seq, problem) verify_log must report, or None if it cannot."""
    if kind == "edit":
        return tamper_edit(session, site, gate, rng.randint(1, last), rng)
    if kind == "delete":
        return tamper_delete(session, site, gate, seq, last)
    if kind == "insert":
        return tamper_insert(session, site, gate, seq)
    if kind == "swap":
        return tamper_swap(
            session, gate, seq, rng.choice([o for o in (1, seq - 1, last) if o != seq])
        )
    if kind == "truncate":
        truncate(session, gate, seq - 1, fix_gate_row=False)
        return (seq, TAIL_MISSING)
    if kind == "append":
        forge_append(session, site, gate, fix_gate_row=False)
        return (last + 1, ROWS_BEYOND_HEAD)
    if kind == "truncate_fixed":
        truncate(session, gate, seq - 1, fix_gate_row=True)
    elif kind == "append_fixed":
        forge_append(session, site, gate, fix_gate_row=True)
    else:
        rewrite_from(session, site, gate, rng.randint(last - 40, last), last)
    return None


# --- checkpoints --------------------------------------------------------------------------------


def test_checkpoint_of_an_intact_log_holds_after_json_round_trip_and_new_rows(
    db_session: Session, small_site: Site
) -> None:
    document = json.loads(json.dumps(write_checkpoint(db_session, small_site.key, T0)))
    bulk_append(
        db_session, small_site, small_site.gates[0], 5, T0 + timedelta(days=5), random.Random(1)
    )

    assert document["community"] == small_site.community.id
    assert [g["gate_seq"] for g in document["gates"]] == [40, 40]
    assert verify_checkpoint(db_session, document, KeySet((small_site.key.entry,))) == []


def test_checkpoint_detects_a_truncated_tail_that_the_chain_alone_cannot(
    db_session: Session, small_site: Site
) -> None:
    document = write_checkpoint(db_session, small_site.key, T0)
    gate = small_site.gates[1]
    truncate(db_session, gate, 30, fix_gate_row=True)

    assert verify_log(db_session, small_site.community.id).ok
    [problem] = verify_checkpoint(db_session, document, KeySet((small_site.key.entry,)))
    assert (problem.code, problem.gate_id, problem.gate_seq) == ("truncated", gate.id, 40)


def test_checkpoint_detects_a_rewrite_with_recomputed_hashes(
    db_session: Session, small_site: Site
) -> None:
    document = write_checkpoint(db_session, small_site.key, T0)
    gate = small_site.gates[0]
    rewrite_from(db_session, small_site, gate, 10, 40)

    assert verify_log(db_session, small_site.community.id).ok
    [problem] = verify_checkpoint(db_session, document, KeySet((small_site.key.entry,)))
    assert (problem.code, problem.gate_id) == ("row_changed", gate.id)


def test_checkpoint_refuses_to_vouch_for_a_broken_log(
    db_session: Session, small_site: Site
) -> None:
    gate = small_site.gates[0]
    db_session.execute(update(Crossing).where(_at(gate, 7)).values(temperature_tenths=380))
    with pytest.raises(LogNotIntact) as caught:
        write_checkpoint(db_session, small_site.key, T0)
    assert not caught.value.report.ok


def _resign(document: dict[str, object], key: SigningKey) -> dict[str, object]:
    signature = key.private_key.sign(signed_message(document))
    return {**document, "signature": base64.b64encode(signature).decode("ascii")}


def test_forged_or_altered_checkpoints_are_refused(db_session: Session, small_site: Site) -> None:
    genuine = write_checkpoint(db_session, small_site.key, T0)
    keys = KeySet((small_site.key.entry,))
    altered = json.loads(json.dumps(genuine))
    altered["gates"][0]["gate_seq"] = 12
    altered["gates"][0]["row_hash"] = _row(db_session, small_site.gates[0], 12)["row_hash"]
    impostor = SigningKey.generate(small_site.key.entry.key_id)  # same id, other key
    unknown = SigningKey.generate((small_site.key.entry.key_id + 1) % 0xFFFF)
    foreign = {**genuine, "key_id": unknown.entry.key_id}

    def codes(document: object, keyset: KeySet = keys) -> list[str]:
        return [p.code for p in verify_checkpoint(db_session, document, keyset)]  # type: ignore[arg-type]

    assert codes(genuine) == []
    assert codes(altered) == ["bad_signature"]
    assert codes(_resign(altered, impostor)) == ["bad_signature"]
    assert codes(_resign(foreign, unknown)) == ["unknown_key"]
    assert codes({**genuine, "signature": "not base64!"}) == ["bad_document"]
    assert codes({**genuine, "format": "other/1"}) == ["bad_document"]
    assert codes({**genuine, "gates": "all"}) == ["bad_document"]
    revoked = KeySet((small_site.key.with_status(KeyStatus.REVOKED).entry,))
    assert codes(genuine, revoked) == ["key_revoked"]


def test_checkpoint_names_a_gate_that_is_gone_or_elsewhere(
    db_session: Session, small_site: Site
) -> None:
    genuine = write_checkpoint(db_session, small_site.key, T0)
    other = make_site(db_session)
    moved = json.loads(json.dumps(genuine))
    moved["gates"][0]["gate_id"] = other.gates[0].id
    moved["gates"][1]["gate_id"] = 2_000_000_000
    problems = verify_checkpoint(
        db_session, _resign(moved, small_site.key), KeySet((small_site.key.entry,))
    )
    assert [p.code for p in problems] == ["wrong_community", "unknown_gate"]


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    committed_engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    return committed_engine


def test_audit_commands_verify_write_and_check_a_checkpoint(
    cli_env: Engine, tmp_path: Path
) -> None:
    sessions = session_factory(cli_env)
    with transaction(sessions) as session:
        site = make_site(session, gates=2)
        build_log(session, site, rows_per_gate=20)
        create_signing_key(
            session,
            community_id=site.community.id,
            keys_dir=tmp_path / "keys",
            actor="test",
            now=T0,
        )
        gate_id = site.gates[1].id
    runner = CliRunner()
    out = tmp_path / "cp.json"

    ok = runner.invoke(audit_group, ["verify"])
    written = runner.invoke(audit_group, ["checkpoint", "--out", str(out)])
    holds = runner.invoke(audit_group, ["checkpoint", "--verify", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.stdout
    assert "记录完整" in ok.stdout
    assert written.exit_code == 0, written.output
    assert holds.exit_code == 0, holds.output
    with transaction(sessions, read_only=True) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.checkpoint"))
        [event] = events.all()  # written once, by the operation, not per command step
        assert event.actor.startswith("cli:")
        assert event.subject_id == str(site.community.id)
        assert json.loads(event.details_json)["file"] == "cp.json"

    with transaction(sessions) as session:
        session.execute(
            update(Crossing)
            .where(Crossing.gate_id == gate_id, Crossing.gate_seq == 9)
            .values(operator="改")
        )
    tampered = runner.invoke(audit_group, ["verify", "--json"])
    broken = runner.invoke(audit_group, ["checkpoint", "--verify", str(out)])
    refused = runner.invoke(audit_group, ["checkpoint", "--out", str(tmp_path / "cp2.json")])

    assert tampered.exit_code == 1
    report = json.loads(tampered.stdout)
    [bad] = [g for g in report["gates"] if not g["ok"]]
    assert (bad["gate_id"], bad["problem"]["gate_seq"]) == (gate_id, 9)
    assert broken.exit_code == 1
    assert "chain_broken" in broken.stdout
    assert refused.exit_code == 1
    assert not (tmp_path / "cp2.json").exists()


def test_every_audit_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for args in ([], ["verify"], ["checkpoint"]):
        result = runner.invoke(audit_group, [*args, "--help"])
        assert result.exit_code == 0
        assert "Example: checkpoint audit" in result.output


# --- the canonical hash ------------------------------------------------------------------------


def _json_reference(prev_hash: str, values: dict) -> str:
    """The documented canonical form, spelled with json.dumps."""

    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, Direction):
            return value.value
        return value

    text = json.dumps(
        {name: plain(value) for name, value in values.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(),
    number=st.one_of(st.none(), st.integers(-(2**40), 2**40)),
    moment=st.datetimes(timezones=st.just(UTC)),
    flag=st.booleans(),
    raw=st.binary(max_size=12),
)
def test_row_hash_is_sha256_of_canonical_json(
    text: str, number: int | None, moment: datetime, flag: bool, raw: bytes
) -> None:
    values = dict.fromkeys(HASHED_ORDER) | {
        "people": 1 if flag else 3,
        "plate": text if flag else None,
        "client_id": text,
        "operator": text,
        "override_reason": text + '"\\\n\u2028',
        "codes": text,
        "temperature_tenths": number,
        "latency_ms": number,
        "gate_seq": 7,
        "scanned_at": moment,
        "recorded_at": moment,
        "allowed": flag,
        "offline": not flag,
        "pass_id": raw,
        "direction": Direction.OUT if flag else Direction.IN,
    }
    hashed = {
        name: value
        for name, value in values.items()
        if name not in OPTIONAL_HASHED_FIELDS
        or (value is not None and value != OPTIONAL_HASHED_FIELDS[name])
    }
    expected = _json_reference("a" * 64, hashed)

    assert row_hash("a" * 64, Crossing(**values)) == expected
    assert content_hash("a" * 64, [values[name] for name in HASHED_ORDER]) == expected
