"""Reading the community's registered signing keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.signing.models import SigningKeyRecord
from passes import KeyStatus


def has_active_key(session: Session, community_id: int) -> bool:
    """Whether community ``community_id`` still has a key it can sign new passes with."""
    key_id = session.scalar(
        select(SigningKeyRecord.key_id)
        .where(
            SigningKeyRecord.community_id == community_id,
            SigningKeyRecord.status == KeyStatus.ACTIVE,
        )
        .limit(1)
    )
    return key_id is not None
