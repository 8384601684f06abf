"""A visitor pass scanned at the gate: decided by :func:`passes.decide_visitor` and logged.

Online the server is the judge: the pass's row is locked (``SELECT ... FOR UPDATE``; SQLite
transactions begin IMMEDIATE), so of two gates scanning one single-use pass at once exactly
one entry is allowed; the allowed entry marks it used in the same transaction. A validly
signed visitor pass with no row here (never issued: a key misused) is refused
``unknown_pass``. Idempotent on the client's UUID like every crossing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import CommunityContext
from gate.crossings.operations import Origin, ScanRequest, ScanResult, find_bound, request_hash_of
from gate.crossings.persistence import crossing_id_of, insert_crossing
from gate.households.fields import mask_name
from gate.visitors.crossing_rows import SUBJECT_VISITOR, outsider_values, scan_result
from gate.visitors.issuing import short_id
from gate.visitors.models import VisitorPassRecord
from passes import (
    Code,
    VerifiedVisitorPass,
    VisitorPassRejected,
    consumes,
    decide_visitor,
    verify_visitor_pass,
)


def record_visitor_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    now: datetime,
) -> ScanResult:
    """Decide and record one crossing with a visitor pass at the server's ``now`` (writes in
    the caller's transaction). The answer's label is the visitor's masked name and the
    pass's short number. Raises :class:`gate.crossings.operations.CrossingError`
    ``id_reuse`` as :func:`gate.crossings.operations.record_scan` does."""
    request_hash = request_hash_of(origin, request, None)
    if crossing_id_of(session, request.client_id) is not None:
        return find_bound(
            session,
            context=context,
            origin=origin,
            client_id=request.client_id,
            request_hash=request_hash,
            now=now,
        )
    check = verify_visitor_pass(request.pass_text, context.keys, community_id=context.community_id)
    record = None
    if isinstance(check, VerifiedVisitorPass):
        record = session.scalar(
            select(VisitorPassRecord)
            .where(
                VisitorPassRecord.pass_id == check.fields.pass_id,
                VisitorPassRecord.community_id == context.community_id,
            )
            .with_for_update()
        )
        if record is None:
            check = VisitorPassRejected(Code.UNKNOWN_PASS, "not_issued", check.fields)
    used = revoked = frozenset[bytes]()
    if record is not None:
        if record.used_at is not None:
            used = frozenset({record.pass_id})
        if record.revoked_at is not None and record.revoked_at <= now:
            revoked = frozenset({record.pass_id})
    verdict = decide_visitor(
        check,
        keys=context.keys,
        community_id=context.community_id,
        used_pass_ids=used,
        revoked_pass_ids=revoked,
        rules=context.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=now,
    )
    values = outsider_values(
        context=context,
        origin=origin,
        client_id=request.client_id,
        verdict=verdict,
        scanned_at=request.scanned_at,
        now=now,
        operator=request.operator,
        subject=SUBJECT_VISITOR,
        subject_id=None if record is None else record.id,
        plate=None if record is None else record.plate,
        request_hash=request_hash,
    )
    values["latency_ms"] = request.latency_ms
    stored = insert_crossing(session, values, None, None)
    if record is not None and consumes(verdict, check):
        record.used_at = now
        record.used_crossing_id = int(str(stored["id"]))
        session.flush()
    label = None if record is None else f"{mask_name(record.name)} {short_id(record.pass_id)}"
    return scan_result(stored, replay=False, label=label)
