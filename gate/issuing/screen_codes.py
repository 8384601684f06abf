"""Rotating screen codes on the server: signing them for the resident page, checking them at
the gate.

A community that turns on ``Community.rotating_codes_enabled`` has the resident page fetch a
fresh code every :data:`REFRESH_SECONDS`; each lives :data:`LIFETIME` (starting
:data:`BACKDATE` in the past so a gate clock a little behind still accepts it). Codes are
signed with the community's active pass key under their own signing context
(:mod:`passes.screen_code`). At the gate, :func:`check_presented` turns whatever text was
scanned, a printed pass or a screen code, into the check :func:`passes.decide` takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.context import CommunityContext
from gate.community.models import Community
from gate.issuing.models import IssuedPass
from gate.issuing.operations import pass_fields
from gate.issuing.verified_passes import verify_known_pass
from gate.signing.operations import active_signing_key
from passes import (
    PassCheck,
    PassRejected,
    is_screen_code,
    screen_code_for,
    screen_pass_check,
    sign_screen_code,
    verify_screen_code,
)

REFRESH_SECONDS = 30
LIFETIME = timedelta(minutes=2, seconds=30)
BACKDATE = timedelta(seconds=30)


@dataclass(frozen=True)
class FreshScreenCode:
    """A screen code just signed, and when it stops being accepted."""

    text: str
    valid_until: datetime


def make_screen_code(session: Session, record: IssuedPass, *, now: datetime) -> FreshScreenCode:
    """Sign a screen code for ``record`` with its community's active key.

    Raises :class:`gate.signing.operations.SigningKeyUnavailable` when no key can sign.
    """
    key = active_signing_key(session, record.community_id)
    fields = screen_code_for(
        pass_fields(record), key_id=key.entry.key_id, valid_from=now - BACKDATE, lifetime=LIFETIME
    )
    return FreshScreenCode(sign_screen_code(key, fields), fields.valid_until)


def check_presented(
    session: Session, *, context: CommunityContext, text: str, now: datetime
) -> PassCheck:
    """Verify a scanned text, a pass (``CP1:``) or a screen code (``CS1:``), at ``now``.

    A screen code is verified first (signature, validity) without touching the database;
    only then is the pass it names looked up (in this community) and checked like a
    presented pass.
    """
    if not is_screen_code(text):
        return verify_known_pass(context, text, now)
    screen = verify_screen_code(text, context.keys, now)
    if isinstance(screen, PassRejected):
        return screen
    record = session.scalar(
        select(IssuedPass).where(
            IssuedPass.pass_id == screen.pass_id,
            IssuedPass.community_id == context.community_id,
        )
    )
    issued = None if record is None else pass_fields(record)
    return screen_pass_check(
        screen, issued, context.keys, community_id=context.community_id, now=now
    )


def set_rotating_codes(
    session: Session, community: Community, enabled: bool, *, actor: str, now: datetime
) -> bool:
    """Turn the community's rotating screen codes on or off; True if that changed anything.

    When on, the resident page shows only rotating codes, never the static pass. Audited as
    ``community.rotating_codes`` (only when it changes).
    """
    if community.rotating_codes_enabled == enabled:
        return False
    community.rotating_codes_enabled = enabled
    record_event(
        session,
        actor=actor,
        action="community.rotating_codes",
        community_id=community.id,
        subject_type="community",
        subject_id=community.code,
        details={"enabled": enabled, "at": now.isoformat()},
    )
    session.flush()
    return True
