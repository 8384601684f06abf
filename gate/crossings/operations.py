"""Deciding and recording crossings: the server's half of the scan API.

One crossing is decided and recorded in one transaction (the caller's): the pass is
verified first without touching the database, then the household row and the gate row
are locked in one statement (``SELECT ... FOR UPDATE OF households, gates``: households
before gates, always, so two scans cannot deadlock; SQLite transactions begin IMMEDIATE),
the core decides, the household state advances, and the crossing is appended to its gate's
hash chain. Idempotent on the client's UUID: a replay returns the stored crossing.

Offline crossings arrive later with the verdict the scanner gave. They are stored as
they happened (the household state advances by what physically happened), re-decided
by the server at their scan time against the household's state as recorded so far, and
flagged as a conflict (``conflict_code``: the server's refusal code) where the scanner
allowed what the server would have refused. Nothing is rolled back. A household's
crossings are judged in the order they arrive, so of two conflicting offline crossings the
one uploaded second is flagged: the later one, when each household's crossings arrive in
scan-time order.

The scan path is every gate's hot path, so it runs as SQLAlchemy Core statements compiled
once (:mod:`gate.crossings.persistence`), on the session's connection: one statement locks
the household and the gate and brings along everything else the decision needs (the head's
name for the label, the pass's revocation, a crossing already stored under the client's UUID,
the chain head), then one insert and at most two updates. The answer is a
:class:`ScanResult` of plain values, not an ORM object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.context import CommunityContext
from gate.crossings.chain import ChainHead
from gate.crossings.persistence import (
    StateWrite,
    crossing_id_of,
    insert_crossing,
    known_household,
    lock_household_and_gate,
    stored_crossing,
)
from gate.crossings.supervisors import Supervisor, card_supervisor
from gate.crossings.timeline import settle as settle_timeline
from gate.errors import N_, CodedError
from gate.households.decision_state import household_state, state_columns
from gate.households.validation import mask_name
from gate.issuing.models import PassStatus
from gate.issuing.screen_codes import check_presented
from gate.roster.queries import shift_at
from gate.zones.queries import household_locks
from passes import (
    Code,
    Direction,
    HouseholdState,
    Override,
    PassCheck,
    PassError,
    PassRejected,
    Verdict,
    VerifiedPass,
    advance,
    decide,
    parse_supervisor_card,
)

SMALLINT_RANGE = range(-32768, 32768)
INT_RANGE = range(-(2**31), 2**31)
CLOCK_BACKWARDS = "clock_backwards"
"""The flag of an offline crossing dated behind its device's clock high-water mark."""
OVERRIDE_REFUSED = "override_refused"
"""The flag of an online crossing whose override came without a valid supervisor credential
(the crossing is stored as the refusal it was)."""
OVERRIDE_UNVERIFIED = "override_unverified"
"""The flag of an offline crossing the scanner let through by an override the server could not
verify (accepted as the scanner decided; for the office to check)."""


CROSSING_MESSAGES: dict[str, str] = {
    "id_reuse": N_(
        "The crossing id %(client_id)s was already used for a different request: refused, "
        "nothing was recorded under it."
    ),
}
"""The English message id of each :class:`CrossingError` code (parameters: its ``params``)."""


class CrossingError(CodedError, ValueError):
    """A crossing was refused as a request: a stable ``code`` and the ``params`` of its
    message (``gettext(CROSSING_MESSAGES[code], **params)``); :attr:`message` is the English
    text (logs, the scanner API's error body)."""

    messages = CROSSING_MESSAGES


@dataclass(frozen=True)
class ScanRequest:
    """One crossing as a scanner (or the browser gate view) reports it."""

    client_id: str
    pass_text: str
    direction: Direction
    temperature: object
    """Integer tenths of a degree, None, or whatever the client sent (a sensor error)."""
    scanned_at: datetime
    operator: str | None = None
    override: Override | None = None
    latency_ms: int | None = None
    clock_offset_ms: int | None = None
    """The device's clock minus the server's (its estimate, ms), when it reports one."""
    client_time: bool = True
    """``scanned_at`` is the client's (part of the request, hashed); False when the server
    stamped it (the browser gate view), so a retried request hashes the same."""
    people: int = 1
    """How many persons crossed on the pass (the volunteer's count; counts when the rules
    count people: ``passes.CountKind``)."""


@dataclass(frozen=True)
class OfflineClaim:
    """The verdict a scanner reached offline, as it reports it."""

    allowed: bool
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    rule_version: int


@dataclass(frozen=True)
class Origin:
    """Who reports the crossing: a device at a gate, or a user on the browser gate view."""

    gate_id: int
    device_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class ScanResult:
    """A stored crossing, as the callers of :func:`record_scan` need it (plain values).

    ``replay``: it was stored by an earlier call with the same client UUID. ``codes`` and
    ``flags`` are space-separated, as stored. ``household_label`` is filled for online scans
    only (the volunteer sees it); an offline upload's answer does not carry it, so it is not
    looked up.
    """

    crossing_id: int
    client_id: str
    replay: bool
    household_label: str | None
    allowed: bool
    code: str | None
    codes: str
    flags: str
    next_exit_at: datetime | None
    rule_version: int
    direction: Direction
    scanned_at: datetime
    household_id: int | None
    gate_id: int
    gate_seq: int
    offline: bool
    conflict: bool
    conflict_code: str | None
    rejected: bool

    @property
    def id(self) -> int:
        """The crossing's id, under the name the answer builders read
        (:func:`gate.api.schemas.scan_response`)."""
        return self.crossing_id


def record_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    now: datetime,
    offline: OfflineClaim | None = None,
    clock_backwards: bool = False,
    supervisor: Supervisor | None = None,
    override_refusal: Code | None = None,
) -> ScanResult:
    """Decide and record one crossing (writes in the caller's transaction; the caller
    commits).

    Online (``offline is None``): decided at the server's ``now``; the stored verdict
    is the server's. Offline: decided at ``request.scanned_at``; the stored verdict is
    the scanner's, with ``conflict`` set where the server would have refused. A client UUID
    already stored MUST NOT be stored twice: a replay (same id, same request, same device:
    :func:`request_hash`) returns the stored crossing; the same id with another request or
    from another device or user raises :class:`CrossingError` ``id_reuse`` after recording
    the audit event ``crossing.id_reuse`` (nothing of the stored crossing is returned).
    ``clock_backwards``: the offline crossing is dated behind its device's clock high-water
    mark (a clock set back): flagged ``clock_backwards`` for the office.

    ``supervisor``: the verified account (of this community) an override is made under
    (a password credential the caller checked, or a card checked at the scan time: the
    uploader's). Online, an override with a supervisor card and no ``supervisor`` has its
    card checked here, at ``now``. An online override without a verified supervisor is
    refused: the crossing is decided and stored without it, flagged ``override_refused`` and
    the refusal's code (``override_refusal``, the card's, else ``override_unauthorized``),
    with the audit event ``crossing.override_refused``. An offline crossing is stored as the
    scanner decided: with a verified supervisor its override is recorded under that account
    and card; with ``override_refusal`` (a card that did not count, on a crossing the scanner
    refused) flagged and audited like an online one; otherwise flagged
    ``override_unverified`` when it carries an override. The crossing records the verified
    account and card (``override_user_id``, ``override_card_id``).

    A validly signed pass of a registered household that the server never issued (no
    issued-pass record in the community: ``checkpoint passes mint``) is refused
    ``unknown_pass`` (offline: stored as the scanner decided, a conflict with that code).
    """
    decided_at = now if offline is None else request.scanned_at
    check = check_presented(session, context=context, text=request.pass_text, now=decided_at)
    request_hash = request_hash_of(origin, request, offline)
    locked = None
    if isinstance(check, VerifiedPass):
        locked = lock_household_and_gate(
            session,
            household_id=check.fields.household_id,
            community_id=context.community_id,
            pass_id=check.fields.pass_id,
            client_id=request.client_id,
            gate_id=origin.gate_id,
            scanned_at=request.scanned_at,
            decided_at=decided_at,
        )
    replay_of = (
        locked.replay_of if locked is not None else crossing_id_of(session, request.client_id)
    )
    if replay_of is not None:
        return find_bound(
            session,
            context=context,
            origin=origin,
            client_id=request.client_id,
            request_hash=request_hash,
            labelled=offline is None,
            attempt=_attempt(request, check, offline),
            now=now,
        )
    if locked is not None and locked.pass_status is None and isinstance(check, VerifiedPass):
        # Signed by a key of this community, for a registered household, but never issued
        # here: only the server knows (the scanner's bundle lists revocations, not passes).
        check = PassRejected(Code.UNKNOWN_PASS, "no issued pass has this id", check.fields)
    state = _household_state(session, locked, decided_at)
    revoked = revoked_of(check, None if locked is None else locked.pass_status)
    card = None if request.override is None else request.override.card
    if offline is None and supervisor is None and card is not None:
        found = card_supervisor(session, context=context, text=card, at=now)
        supervisor, override_refusal = (None, found) if isinstance(found, Code) else (found, None)
    override, refusal = _verified_override(request, offline, supervisor, context, override_refusal)
    override_refused = refusal is not None
    verdict = decide(
        check,
        keys=context.keys,
        community_id=context.community_id,
        household=state,
        revoked_pass_ids=revoked,
        rules=context.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=decided_at,
        override=override,
        people=request.people,
    )
    values = crossing_values(context, origin, request, verdict, now)
    values["request_hash"] = request_hash
    # The duty shift on at the gate when decided: online the server's now, offline the
    # scan's own time (an upload hours later still names the shift it happened in).
    values["shift_id"] = (
        locked.shift_id if locked is not None else shift_at(session, origin.gate_id, decided_at)
    )
    # Attributed only to a registered household of this community: a validly signed pass
    # naming a household the server does not know (minted, or a restore from an older
    # backup) is refused ``unknown_household`` and stored without one, never a 500.
    values["household_id"] = (
        locked.id if locked is not None else _registered(session, check, context.community_id)
    )
    if offline is not None:
        values.update(offline_values(offline, verdict, request.clock_offset_ms))
        _flag(values, CLOCK_BACKWARDS, clock_backwards)
        unverified = request.override is not None and override is request.override
        _flag(values, OVERRIDE_UNVERIFIED, unverified)
        if override is not None and not unverified and offline.allowed:
            values["override_supervisor"] = override.supervisor
            values["override_reason"] = override.reason
    if override is not None and supervisor is not None and values["override_supervisor"]:
        values["override_user_id"] = supervisor.user_id
        values["override_card_id"] = supervisor.card_id
    _flag(values, OVERRIDE_REFUSED, override_refused)
    if refusal is not None:
        _flag(values, refusal.value)
    if locked is None or state is None:  # no household: nothing locked yet, nothing to label
        stored = insert_crossing(session, values, None, None)
        if refusal is not None:
            _override_refused_event(session, context, origin, request, stored, refusal)
        return stored_result(stored, replay=False, label=None)
    after = advance(
        state, request.direction, bool(values["allowed"]), decided_at, context.rules, request.people
    )
    new_state = StateWrite(locked.id, state_columns(after), now) if after != state else None
    head = ChainHead(origin.gate_id, locked.chain_seq, locked.chain_hash)
    stored = insert_crossing(session, values, head, new_state)
    # Late or offline: replay the household's timeline in scan order.
    settle_timeline(  # the household as locked, its state as now stored: not read again
        session,
        context.rules,
        stored,
        later=bool(locked.later),
        household=locked,
        state_json=str(locked.state_json if new_state is None else new_state.columns["state_json"]),
    )
    if refusal is not None:
        _override_refused_event(session, context, origin, request, stored, refusal)
    label = _label(locked.code, locked.head_name) if offline is None else None
    return stored_result(stored, replay=False, label=label)


def _household_state(session: Session, locked: Any, at: datetime) -> HouseholdState | None:
    """The locked household's state with the lockdown-zone locks over it at ``at`` (None
    without a household)."""
    if locked is None:
        return None
    state = household_state(locked)
    if not locked.zoned:  # the lock statement's check: no sealed lock covers it at ``at``
        return state
    return replace(state, zones=household_locks(session, state.household_id, at))


def request_hash_of(origin: Origin, request: ScanRequest, offline: OfflineClaim | None) -> str:
    """SHA-256 (hex) of the canonical request a client id is bound to: who sends it (device
    or user), the pass text, direction, the client's ``scanned_at``, temperature, override
    (supervisor and reason) and, for an offline crossing, the verdict the scanner claims."""
    override = request.override
    canonical: dict[str, object] = {
        "device": origin.device_id,
        "user": origin.user_id,
        "pass": request.pass_text,
        "direction": request.direction.value,
        "scanned_at": request.scanned_at.isoformat() if request.client_time else None,
        "temperature": request.temperature,
        "override": None if override is None else [override.supervisor, override.reason],
    }
    if override is not None and override.card is not None:  # only then: older hashes hold
        canonical["supervisor_card"] = override.card
    if request.people != 1:  # only then: older hashes hold
        canonical["people"] = request.people
    if offline is not None:
        canonical["claim"] = {
            "allowed": offline.allowed,
            "code": offline.code,
            "codes": list(offline.codes),
            "notes": list(offline.notes),
            "rule_version": offline.rule_version,
        }
    return _sha256(canonical)


def upload_hash_of(origin: Origin, raw: str) -> str:
    """SHA-256 (hex) an unreadable upload's id is bound to: its device and its content."""
    return _sha256({"device": origin.device_id, "user": origin.user_id, "raw": raw})


def _sha256(canonical: Mapping[str, object]) -> str:
    text = json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def find_bound(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    client_id: str,
    request_hash: str,
    labelled: bool = False,
    attempt: Mapping[str, object] | None = None,
    now: datetime,
) -> ScanResult:
    """The crossing stored under ``client_id``, as a replay, when it was stored for this
    very request: the same device (or user) of this community and the same
    ``request_hash`` (a crossing stored before ids were bound has none: the same device
    replays it). Otherwise records ``crossing.id_reuse`` and raises :class:`CrossingError`
    ``id_reuse``; nothing of the stored crossing leaves this function then.

    ``attempt``: what the refused request presented (no personal data), for the event.
    """
    row = stored_crossing(session, client_id)
    if row is None:  # pragma: no cover - found by the same transaction just before
        raise LookupError(f"crossing {client_id} vanished")
    same_sender = (
        row["community_id"] == context.community_id
        and row["device_id"] == origin.device_id
        and row["user_id"] == origin.user_id
    )
    stored_hash = row["request_hash"]
    if same_sender and (stored_hash is None or stored_hash == request_hash):
        label = None
        if labelled and row["household_code"] is not None:
            label = _label(row["household_code"], row["head_name"])
        return stored_result(row, replay=True, label=label)
    details: dict[str, object] = {
        "client_id": client_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "gate_id": origin.gate_id,
        "stored_device_id": row["device_id"],
        "stored_user_id": row["user_id"],
        "stored_community_id": row["community_id"],
        "same_sender": same_sender,
        "request_hash": request_hash,
        "at": now,
        **dict(attempt or {}),
    }
    communities = [context.community_id]
    if row["community_id"] != context.community_id:
        communities.append(row["community_id"])  # its office learns of it too
    for community_id in communities:
        record_event(
            session,
            actor=_actor(origin),
            action="crossing.id_reuse",
            community_id=community_id,
            user_id=origin.user_id,
            subject_type="crossing",
            subject_id=client_id,
            details=details,
        )
    raise CrossingError("id_reuse", client_id=client_id)


def _attempt(
    request: ScanRequest, check: PassCheck, offline: OfflineClaim | None
) -> dict[str, object]:
    """What a refused request presented, for its ``crossing.id_reuse`` event: the pass's
    id and household when its signature held, the check's refusal code, the direction,
    time and the claimed verdict (never a name or a label)."""
    fields = check.fields if isinstance(check, (VerifiedPass, PassRejected)) else None
    return {
        "pass_id": None if fields is None else fields.pass_id.hex(),
        "household_id": None if fields is None else fields.household_id,
        "pass_check": check.code.value if isinstance(check, PassRejected) else "valid",
        "direction": request.direction.value,
        "scanned_at": request.scanned_at,
        "offline": offline is not None,
        "claimed_allowed": None if offline is None else offline.allowed,
    }


def _actor(origin: Origin) -> str:
    if origin.device_id is not None:
        return f"device:{origin.device_id}"
    return f"user:{origin.user_id}"


def _flag(values: dict[str, object], flag: str, when: bool = True) -> None:
    if when:
        values["flags"] = " ".join([*str(values["flags"] or "").split(), flag])


def _verified_override(
    request: ScanRequest,
    offline: OfflineClaim | None,
    supervisor: Supervisor | None,
    context: CommunityContext,
    refusal: Code | None,
) -> tuple[Override | None, Code | None]:
    """The override the decision may use, and why one asked for was refused (None: it
    was not).

    Under a verified supervisor of this community: theirs (named by their account and card).
    Online without one: refused (``refusal``, else ``supervisor_login_invalid`` for a
    supervisor of another community, else ``override_unauthorized``). Offline: refused with
    ``refusal`` when given, else the scanner's as reported (flagged unverified)."""
    override = request.override
    if override is None:
        return None, None
    if supervisor is not None and supervisor.community_id == context.community_id:
        return Override(supervisor=supervisor.name, reason=override.reason), None
    if offline is not None and refusal is None:
        return override, None
    if refusal is None:
        refusal = Code.SUPERVISOR_LOGIN_INVALID if supervisor else Code.OVERRIDE_UNAUTHORIZED
    return None, refusal


def _override_refused_event(
    session: Session,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    stored: Mapping[str, object],
    refusal: Code,
) -> None:
    override_refused_event(
        session,
        context=context,
        origin=origin,
        request=request,
        crossing_id=stored["id"],
        refusal=refusal,
        stored_code=stored["code"],
    )


def override_refused_event(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    crossing_id: object,
    refusal: Code,
    stored_code: object,
) -> None:
    """Record ``crossing.override_refused``: an override asked for with no valid supervisor
    card or credential (never the password; the card only by its short id)."""
    override = request.override
    card = None if override is None else override.card
    record_event(
        session,
        actor=_actor(origin),
        action="crossing.override_refused",
        community_id=context.community_id,
        user_id=origin.user_id,
        subject_type="crossing",
        subject_id=crossing_id,
        reason=None if override is None else override.reason,
        details={
            "client_id": request.client_id,
            "device_id": origin.device_id,
            "gate_id": origin.gate_id,
            "claimed_supervisor": None if override is None else override.supervisor,
            "refusal": refusal.value,
            "card": None if card is None else card_label(card),
            "code": stored_code,
        },
    )


def card_label(text: str) -> str | None:
    """A presented card's short id (its first 8 hex digits), when it parses at all."""
    try:
        fields, _body, _signature = parse_supervisor_card(text)
    except PassError:
        return None
    return fields.card_id.hex()[:8].upper()


def record_rejected_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    claim: OfflineClaim,
    code: str,
    reason: str,
    now: datetime,
) -> ScanResult:
    """Keep an uploaded crossing the server will not accept (dated in the future, or before
    its device existed): stored as reported (household, pass, direction, its ``scanned_at``),
    ``rejected`` with ``code`` and ``reason``, refused, and changing no household state.

    A client UUID already stored is returned as a replay, or refused ``id_reuse``, as in
    :func:`record_scan`.
    """
    check = check_presented(session, context=context, text=request.pass_text, now=now)
    request_hash = request_hash_of(origin, request, claim)
    if crossing_id_of(session, request.client_id) is not None:
        return find_bound(
            session,
            context=context,
            origin=origin,
            client_id=request.client_id,
            request_hash=request_hash,
            attempt=_attempt(request, check, claim),
            now=now,
        )
    fields = check.fields if isinstance(check, (VerifiedPass, PassRejected)) else None
    scanner = "scanner_allowed" if claim.allowed else "scanner_refused"
    values: dict[str, object] = {
        "client_id": request.client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "household_id": None
        if fields is None
        else known_household(session, fields.household_id, context.community_id),
        "pass_id": None if fields is None else fields.pass_id,
        "direction": request.direction,
        "scanned_at": request.scanned_at,
        "recorded_at": now,
        "temperature_tenths": request.temperature
        if type(request.temperature) is int and request.temperature in SMALLINT_RANGE
        else None,
        "allowed": False,
        "code": code,
        "codes": " ".join([code, *claim.codes]),
        "flags": f"offline {scanner}",
        "rule_version": claim.rule_version,
        "operator": request.operator,
        "offline": True,
        "conflict": False,
        "rejected": True,
        "rejection_reason": reason,
        "latency_ms": request.latency_ms,
        "clock_offset_ms": _offset(request.clock_offset_ms),
        "request_hash": request_hash,
    }
    return stored_result(insert_crossing(session, values, None, None), replay=False, label=None)


def record_rejected_upload(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    client_id: str,
    raw: str,
    reason: str,
    now: datetime,
    request_hash: str | None = None,
) -> ScanResult:
    """Keep an uploaded item the server cannot read as a crossing: stored, flagged, chained.

    ``reason``: why it could not be read (stored with the first 500 characters of ``raw``).
    ``request_hash``: what its id is bound to (:func:`upload_hash_of`).
    """
    values: dict[str, object] = {
        "client_id": client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "direction": Direction.IN,
        "scanned_at": now,
        "recorded_at": now,
        "allowed": False,
        "code": "rejected_upload",
        "codes": "rejected_upload",
        "flags": "offline",
        "rule_version": context.rules.version,
        "offline": True,
        "conflict": False,
        "rejected": True,
        "rejection_reason": f"{reason}: {raw[:500]}",
        "request_hash": request_hash,
    }
    return stored_result(insert_crossing(session, values, None, None), replay=False, label=None)


def _label(code: str, head_name: str | None) -> str:
    """What the volunteer sees: the household code and the head's masked name."""
    return f"{code} {mask_name(head_name)}" if head_name else code


def stored_result(row: Mapping[Any, Any], *, replay: bool, label: str | None) -> ScanResult:
    """The answer for a stored crossing ``row`` (also the upload chunk's)."""
    return ScanResult(
        crossing_id=row["id"],
        client_id=row["client_id"],
        replay=replay,
        household_label=label,
        allowed=row["allowed"],
        code=row["code"],
        codes=row["codes"],
        flags=row["flags"],
        next_exit_at=row["next_exit_at"],
        rule_version=row["rule_version"],
        direction=row["direction"],
        scanned_at=row["scanned_at"],
        household_id=row["household_id"],
        gate_id=row["gate_id"],
        gate_seq=row["gate_seq"],
        offline=row["offline"],
        conflict=row["conflict"],
        conflict_code=row["conflict_code"],
        rejected=row["rejected"],
    )


def _registered(session: Session, check: PassCheck, community_id: int) -> int | None:
    """The household a refused pass names (signed but expired, ...), if it is registered in
    ``community_id``; None for forgeries (nothing about them is trusted or looked up)."""
    if isinstance(check, PassRejected) and check.fields is not None:
        return known_household(session, check.fields.household_id, community_id)
    return None


def _offset(offset_ms: int | None) -> int | None:
    """A reported clock offset as stored (the column's 32-bit range: +-24 days, clamped)."""
    if offset_ms is None:
        return None
    return max(INT_RANGE.start, min(INT_RANGE.stop - 1, offset_ms))


def revoked_of(check: PassCheck, pass_status: PassStatus | None) -> frozenset[bytes]:
    """The revoked pass ids ``decide`` needs: ``check``'s own if its stored status (None:
    not found) is revoked."""
    if isinstance(check, VerifiedPass) and pass_status == PassStatus.REVOKED:
        return frozenset({check.fields.pass_id})
    return frozenset()


def crossing_values(
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    verdict: Verdict,
    now: datetime,
) -> dict[str, object]:
    """A decided crossing's columns (all but the chain's, the household, the shift and the
    offline claim's), as the scan path and the upload chunk store them."""
    temperature = verdict.temperature_tenths
    override = verdict.override
    return {
        "client_id": request.client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "household_id": verdict.household_id,
        "pass_id": verdict.pass_id,
        "direction": request.direction,
        "scanned_at": request.scanned_at,
        "recorded_at": now,
        "temperature_tenths": temperature if temperature in SMALLINT_RANGE else None,
        "allowed": verdict.allowed,
        "code": verdict.code.value if verdict.code else None,
        "codes": " ".join(code.value for code in verdict.codes),
        "flags": " ".join(note.value for note in verdict.notes),
        "next_exit_at": verdict.next_exit_at,
        "rule_version": verdict.rule_version,
        "operator": request.operator,
        "override_reason": override.reason if override else None,
        "override_supervisor": override.supervisor if override else None,
        "offline": False,
        "conflict": False,
        "rejected": False,
        "latency_ms": request.latency_ms,
        "people": request.people,
    }


def offline_values(
    claim: OfflineClaim, server: Verdict, request_offset: int | None
) -> dict[str, object]:
    """An offline crossing's columns: the gate's verdict over the server's, a conflict where
    the gate let in what the server refuses, and the gate's clock offset as stored. One for
    every kind of crossing (households, visitors, cars)."""
    values: dict[str, object] = {
        "offline": True,
        "clock_offset_ms": _offset(request_offset),
        "allowed": claim.allowed,
        "code": claim.code,
        "codes": " ".join(claim.codes),
        "flags": " ".join(claim.notes),
        "rule_version": claim.rule_version,
    }
    if claim.allowed and not server.allowed:
        values["conflict"] = True
        # The code the server would have refused with ("quota", "already_out", ...): a
        # prefix would not fit the column for the longer codes ("unknown_household").
        values["conflict_code"] = server.code.value if server.code else None
    return values
