"""The offline bundle: everything a scanner needs to decide alone, and nothing personal.

Public keys with status, revoked pass ids, household states (opaque ids, generations,
status, people out, exits in the window), the rule set and the server time, as a
:class:`passes.wire.Bundle` (``checkpoint.bundle.v1``). No names, ID numbers, phones or
addresses. The ETag is the bundle's ``content_hash`` (a hash of the content without the
server time), so an unchanged bundle costs the scanner a 304; the ``format`` says its shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from passes import wire


def build_bundle(
    session: Session, community_id: int, *, now: datetime
) -> tuple[dict[str, Any], str]:
    """The bundle body and its ETag (its content hash). Reads only."""
    context = load_context(session, community_id)
    revoked = session.scalars(
        select(IssuedPass.pass_id)
        .where(IssuedPass.community_id == community_id, IssuedPass.status == PassStatus.REVOKED)
        .order_by(IssuedPass.pass_id)
    )
    households = session.scalars(
        select(Household).where(Household.community_id == community_id).order_by(Household.id)
    )
    bundle = wire.Bundle.build(
        generated_at=now,
        community=wire.Community(context.community_id, context.name, context.timezone),
        rules=context.rules,
        keys=context.keys,
        revoked_pass_ids=tuple(revoked),
        households=tuple(household_state(row) for row in households),
    )
    return bundle.to_json(), bundle.content_hash
