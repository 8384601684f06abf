"""The offline bundle: everything a scanner needs to decide alone, and nothing personal.

Public keys with status, revoked pass ids, household states (opaque ids, generations,
status, people out, exits in the window), the rule set and the server time, as a
:class:`passes.wire.Bundle` (``checkpoint.bundle.v1``); and its optional fields: each
household's code (building-unit-room, what the card prints, so the volunteer can compare),
the unexpired passes' facts (so a rotating screen code naming one is checked offline) and, when
the caller gives them, the supervisor cards (:func:`gate.supervisors.operations.bundle_cards`).
No names, ID numbers, phones or addresses. The ETag is the bundle's ``content_hash`` (a hash
of the content without the server time), so an unchanged bundle costs the scanner a 304; the
``format`` says its shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import pass_fields
from passes import CardState, ZoneLock, wire


def build_bundle(
    session: Session,
    community_id: int,
    *,
    now: datetime,
    supervisor_cards: Sequence[CardState] | None = None,
    revoked_card_ids: Sequence[bytes] | None = None,
    extra_revoked_pass_ids: Sequence[bytes] = (),
    zone_locks: Mapping[int, tuple[ZoneLock, ...]] | None = None,
    duty: Sequence[wire.DutySlot] | None = None,
    used_visitor_pass_ids: Sequence[bytes] | None = None,
) -> tuple[dict[str, Any], str]:
    """The bundle body and its ETag (its content hash). Reads only.

    ``extra_revoked_pass_ids``: revoked ids of the community's other signed passes (vehicle
    passes, :func:`gate.vehicles.issuing.revoked_vehicle_pass_ids`): they join the revoked ids.
    ``supervisor_cards``/``revoked_card_ids``: the community's cards for offline overrides
    (left out of the bundle when None). ``zone_locks``: household id -> the lockdown-zone locks
    over it (:func:`gate.zones.queries.bundle_locks`), carried in its state. ``duty``: the
    shifts at the fetching scanner's gate (:func:`gate.roster.duty_line.bundle_duty`), left
    out when None. ``used_visitor_pass_ids``: the consumed single-use visitor passes
    (:func:`gate.visitors.queries.bundle_visitor_ids`), left out when None."""
    locks = zone_locks or {}
    context = load_context(session, community_id)
    revoked = session.scalars(
        select(IssuedPass.pass_id)
        .where(IssuedPass.community_id == community_id, IssuedPass.status == PassStatus.REVOKED)
        .order_by(IssuedPass.pass_id)
    )
    households = list(
        session.scalars(
            select(Household).where(Household.community_id == community_id).order_by(Household.id)
        )
    )
    # Every unexpired pass, whatever its status: a screen code naming a revoked or replaced
    # pass is then refused offline exactly as its card is (revoked, superseded).
    issued = session.scalars(
        select(IssuedPass)
        .where(IssuedPass.community_id == community_id, IssuedPass.valid_until >= now)
        .order_by(IssuedPass.pass_id)
    )
    bundle = wire.Bundle.build(
        generated_at=now,
        community=wire.Community(context.community_id, context.name, context.timezone),
        rules=context.rules,
        keys=context.keys,
        revoked_pass_ids=tuple(sorted({*revoked, *extra_revoked_pass_ids})),
        households=tuple(
            replace(household_state(row), zones=locks.get(row.id, ())) for row in households
        ),
        household_codes={row.id: row.code for row in households},
        passes=tuple(pass_fields(record) for record in issued),
        supervisor_cards=None if supervisor_cards is None else tuple(supervisor_cards),
        revoked_card_ids=None if revoked_card_ids is None else tuple(revoked_card_ids),
        duty=None if duty is None else tuple(duty),
        used_visitor_pass_ids=None
        if used_visitor_pass_ids is None
        else tuple(sorted(used_visitor_pass_ids)),
    )
    return bundle.to_json(), bundle.content_hash
