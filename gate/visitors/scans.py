"""A visitor pass scanned at the gate: decided by :func:`passes.decide_visitor` and logged.

Online the server is the judge: the pass's row is locked (``SELECT ... FOR UPDATE``; SQLite
transactions begin IMMEDIATE), so of two gates scanning one single-use pass at once exactly
one entry is allowed; the allowed entry marks it used in the same transaction. A validly
signed visitor pass with no row here (never issued: a key misused) is refused
``unknown_pass``. Idempotent on the client's UUID like every crossing.

Offline (a gate's upload, :func:`record_visitor_upload`): the crossing is stored as the gate
decided it, judged at its scan time against the server's record; uploads are judged in the
order they arrive, so when two gates each let a single-use pass in offline, the one uploaded
second is kept and flagged a conflict ``visitor_pass_used`` (it happened: nothing is
rejected). The first allowed entry uploaded marks the pass used at its scan time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import CommunityContext
from gate.crossings.operations import (
    OfflineClaim,
    Origin,
    ScanRequest,
    ScanResult,
    find_bound,
    offline_values,
    request_hash_of,
)
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
    is_visitor_pass,
    verify_visitor_pass,
)


def record_visitor_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    now: datetime,
    offline: OfflineClaim | None = None,
) -> ScanResult:
    """Decide and record one crossing with a visitor pass at the server's ``now`` (writes in
    the caller's transaction). The answer's label is the visitor's masked name and the
    pass's short number. Raises :class:`gate.crossings.operations.CrossingError`
    ``id_reuse`` as :func:`gate.crossings.operations.record_scan` does. ``offline``: the
    verdict a gate reached offline (see the module doc)."""
    request_hash = request_hash_of(origin, request, offline)
    decided_at = now if offline is None else request.scanned_at
    if crossing_id_of(session, request.client_id) is not None:
        return find_bound(
            session,
            context=context,
            origin=origin,
            client_id=request.client_id,
            request_hash=request_hash,
            labelled=offline is None,
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
        if record.revoked_at is not None and record.revoked_at <= decided_at:
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
        now=decided_at,
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
    if offline is not None:
        values |= offline_values(offline, verdict, request.clock_offset_ms)
    stored = insert_crossing(session, values, None, None)
    takes = consumes(verdict, check) and (offline is None or offline.allowed)
    if record is not None and takes:
        record.used_at = decided_at
        record.used_crossing_id = int(str(stored["id"]))
        session.flush()
    label = None if record is None else f"{mask_name(record.name)} {short_id(record.pass_id)}"
    return scan_result(stored, replay=False, label=label)


def record_visitor_upload(
    session: Session,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    claim: OfflineClaim,
    now: datetime,
) -> ScanResult | None:
    """An uploaded offline crossing made with a visitor pass, stored (see the module doc);
    None when its pass is not a visitor pass (the caller stores it as a household's). The
    hook :class:`gate.crossings.uploads.Uploader` calls (``outsiders``)."""
    if not is_visitor_pass(request.pass_text):
        return None
    return record_visitor_scan(
        session, context=context, origin=origin, request=request, now=now, offline=claim
    )
