"""The offline bundle: everything a scanner needs to decide alone, and nothing personal.

Public keys with status, revoked pass ids, household states (opaque ids, generations,
status, people out, exits in the window), the rule set and its version, the server time.
No names, ID numbers, phones or addresses. The ETag is a hash of the content (without
the server time), so an unchanged bundle costs the scanner a 304.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from passes import format_utc


def build_bundle(
    session: Session, community_id: int, *, now: datetime
) -> tuple[dict[str, Any], str]:
    """The bundle body and its ETag."""
    context = load_context(session, community_id)
    revoked = session.scalars(
        select(IssuedPass.pass_id)
        .where(IssuedPass.community_id == community_id, IssuedPass.status == PassStatus.REVOKED)
        .order_by(IssuedPass.pass_id)
    )
    households = session.scalars(
        select(Household).where(Household.community_id == community_id).order_by(Household.id)
    )
    content = {
        "community": {
            "id": context.community_id,
            "name": context.name,
            "timezone": context.timezone,
        },
        "rules": context.rules.to_dict(),
        "keys": context.keys.to_list(),
        "revoked_pass_ids": [pass_id.hex() for pass_id in revoked],
        "households": [household_state(row).to_dict() for row in households],
    }
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:32]
    return {"version": digest, "generated_at": format_utc(now), **content}, digest
