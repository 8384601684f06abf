"""Crossings recorded from the browser gate view: who may override a refusal there, and
recording a browser's scan.

A crossing from the browser goes through :func:`gate.crossings.operations.record_scan`, the
same path as a scanner device's, with an :class:`Origin` naming the logged-in user instead of
a device. Nothing here touches the database itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.community.context import CommunityContext
from gate.crossings.operations import Origin, ScanRequest, ScanResult, record_scan
from gate.crossings.supervisors import Supervisor
from passes import Override

OVERRIDE_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may let a refused crossing through from the gate view."""
MAX_OVERRIDE_REASON = 500


class OverrideNotAllowed(PermissionError):
    """The user's role may not override a refusal."""


class OverrideReasonMissing(ValueError):
    """An override needs a reason of 1 to ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def supervisor_override(role: str, supervisor: str, reason: object) -> Override:
    """The override a gate user asks for; only :data:`OVERRIDE_ROLES` may.

    Raises :class:`OverrideNotAllowed`, or :class:`OverrideReasonMissing`.
    """
    if Role(role) not in OVERRIDE_ROLES:
        raise OverrideNotAllowed(role)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_OVERRIDE_REASON:
        raise OverrideReasonMissing(MAX_OVERRIDE_REASON)
    return Override(supervisor=supervisor, reason=reason.strip())


def record_browser_scan(
    session: Session,
    *,
    context: CommunityContext,
    gate_id: int,
    user_id: int,
    request: ScanRequest,
    now: datetime,
    supervisor: Supervisor | None = None,
) -> ScanResult:
    """Decide and record a crossing reported by a user on the gate view.

    ``supervisor``: the logged-in account when it may override (:data:`OVERRIDE_ROLES`,
    checked by :func:`supervisor_override`): its login is the override's credential.
    Raises :class:`gate.crossings.operations.CrossingError` (``id_reuse``) as
    :func:`record_scan` does."""
    return record_scan(
        session,
        context=context,
        origin=Origin(gate_id=gate_id, user_id=user_id),
        request=request,
        now=now,
        supervisor=supervisor,
    )
