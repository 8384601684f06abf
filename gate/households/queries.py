"""Reading households: lookups by code within a community."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.households.models import Household
from gate.households.operations import normalise_household_code


def household_by_code(session: Session, community_id: int, code: str) -> Household | None:
    """Household ``code`` of community ``community_id``, or None. The code is tried as given
    (links carry the stored code) and in its normalised form (what an import stores)."""
    return session.scalar(
        select(Household)
        .where(
            Household.community_id == community_id,
            Household.code.in_({code, normalise_household_code(code)}),
        )
        .limit(1)
    )
