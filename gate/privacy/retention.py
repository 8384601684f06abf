"""A community's retention setting, and ending its lockdown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.devices.models import Device, Gate
from gate.devices.operations import revoke_device
from gate.errors import N_, CodedError
from gate.issuing.models import IssuedPass, PassStatus
from gate.privacy.models import DEFAULT_RETENTION_DAYS, CommunityRetention
from gate.verification.checkpoints import record_checkpoint, write_checkpoint
from passes import SigningKey

MAX_RETENTION_DAYS = 3650


class PrivacyError(CodedError):
    """A privacy request that cannot be done; ``code`` says why."""

    messages: ClassVar[Mapping[str, str]] = {
        "bad_retention": N_("Retention must be a whole number of days from 0 to 3650."),
        "lockdown_ended": N_("The lockdown of this community has already ended."),
        "not_due": N_("No purge is due yet: the lockdown has not ended or the retention runs on."),
        "no_key": N_("The community has no active signing key: run `checkpoint keys create`."),
        "log_broken": N_(
            "The crossing log does not verify, so it cannot be closed by a checkpoint."
        ),
        "no_household": N_("No household with this code in the community."),
        "bad_confirmation": N_("The confirmation does not match the community's name."),
    }


def retention_of(session: Session, community_id: int) -> CommunityRetention:
    """The community's retention row (a default, not yet added, when none was stored)."""
    row = session.get(CommunityRetention, community_id)
    if row is None:
        row = CommunityRetention(community_id=community_id, retention_days=DEFAULT_RETENTION_DAYS)
    return row


def purge_due_at(row: CommunityRetention) -> datetime | None:
    """When the full purge is due: ``retention_days`` after the lockdown ended (None: lasting)."""
    if row.lockdown_ended_at is None:
        return None
    return row.lockdown_ended_at + timedelta(days=row.retention_days)


def set_retention(session: Session, community_id: int, days: int, *, actor: str) -> None:
    """Keep crossings and temperatures ``days`` days after the lockdown ends (0..3650).

    Audited as ``privacy.retention``. Raises :class:`PrivacyError` ``bad_retention``.
    """
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise PrivacyError("bad_retention")
    row = retention_of(session, community_id)
    before = row.retention_days if row in session else None
    row.retention_days = days
    session.add(row)
    record_event(
        session,
        actor=actor,
        action="privacy.retention",
        community_id=community_id,
        subject_type="community",
        subject_id=community_id,
        details={"from": before, "to": days},
    )
    session.flush()


@dataclass(frozen=True)
class LockdownEnded:
    """What ending the lockdown did: counts, the final checkpoint, when the purge is due."""

    passes_revoked: int
    devices_revoked: int
    checkpoint: dict[str, Any]
    purge_due_at: datetime


def end_lockdown(
    session: Session, community_id: int, key: SigningKey | None, *, now: datetime, actor: str
) -> LockdownEnded:
    """Close a community: revoke every active pass and device, sign a final checkpoint of the
    log, and schedule the purge ``retention_days`` from now. Flushes, never commits.

    Raises :class:`PrivacyError` (``lockdown_ended``, ``no_key``, ``log_broken``). The
    checkpoint is written before anything changes: a broken log stops the whole request.
    """
    from gate.verification.checkpoints import LogNotIntact

    row = retention_of(session, community_id)
    if row.lockdown_ended_at is not None:
        raise PrivacyError("lockdown_ended")
    if key is None:
        raise PrivacyError("no_key")
    try:
        document = write_checkpoint(session, key, now, community_id=community_id)
    except LogNotIntact as exc:
        raise PrivacyError("log_broken") from exc
    reason = "end of lockdown"
    revoking = session.execute(
        update(IssuedPass)
        .where(IssuedPass.community_id == community_id, IssuedPass.status == PassStatus.ACTIVE)
        .values(status=PassStatus.REVOKED, revoked_at=now, revoked_by=actor, revoke_reason=reason)
    )
    passes = int(getattr(revoking, "rowcount", 0) or 0)
    devices = session.scalars(
        select(Device)
        .join(Gate, Gate.id == Device.gate_id)
        .where(Gate.community_id == community_id, Device.revoked_at.is_(None))
    ).all()
    revoked = sum(
        revoke_device(session, device, actor=actor, reason=reason, now=now) for device in devices
    )
    row.lockdown_ended_at, row.ended_by = now, actor
    session.add(row)
    record_checkpoint(session, document, file_name="end-of-lockdown", actor=actor)
    due = purge_due_at(row)
    assert due is not None
    record_event(
        session,
        actor=actor,
        action="privacy.end_lockdown",
        community_id=community_id,
        subject_type="community",
        subject_id=community_id,
        details={
            "passes_revoked": passes,
            "devices_revoked": revoked,
            "retention_days": row.retention_days,
            "purge_due_at": due.isoformat(),
        },
    )
    session.flush()
    return LockdownEnded(passes, revoked, document, due)
