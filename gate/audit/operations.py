"""Office audit events: who did what, when, to what, and why. Append-only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    community_id: int | None = None,
    user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: object = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to ``session`` (flushed by the caller's transaction).

    ``action`` is a stable dotted name such as ``pass.revoke`` or ``household.quarantine``.
    ``details`` MUST NOT hold unmasked personal data.
    """
    event = AuditEvent(
        community_id=community_id,
        user_id=user_id,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        reason=reason,
        details_json=json.dumps(dict(details or {}), ensure_ascii=False, default=str),
    )
    session.add(event)
    return event
