"""Resident links: issue, revoke, resolve, and what the resident's page shows.

The resident's page itself is ``gate.resident`` (the entry point); this module owns the data.

A link is ``/p/<token>``: the token is 32 random bytes (URL-safe Base64), handed to the
household once; only its SHA-256 (hex) is stored, in ``IssuedPass.resident_link_token_hash``.
A pass has at most one link: issuing again replaces it (the old link stops working), revoking
ends it and leaves the pass itself valid. Both are audited. Operations flush, never commit.

Per household (the office's unit: console button, ``checkpoint passes link``):
:func:`issue_household_links` gives each household one live link, on its current usable pass
(any live link on an older pass of the household ends); :func:`revoke_household_links` ends
every live link of the households. :func:`links_workbook` is the spreadsheet of household code
and link that the grid worker posts to the building's WeChat group.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.context import CommunityContext
from gate.community.models import Community
from gate.errors import N_, CodedError
from gate.households.decision_state import household_state
from gate.households.models import Household, Member
from gate.households.operations import HEAD_FIRST
from gate.households.validation import mask_name
from gate.issuing.cards import usable_passes
from gate.issuing.models import IssuedPass, PassStatus
from passes import HouseholdStatus, next_exit_at

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
"""``secrets.token_urlsafe(32)``: 43 characters; anything else is refused before hashing."""


RESIDENT_LINK_MESSAGES: dict[str, str] = {
    "pass_not_active": N_("The pass is not active: a resident link needs an active pass."),
    "no_pass": N_("Household %(household)s has no valid pass: issue one first."),
    "no_link": N_("Household %(household)s has no resident link to revoke."),
}
"""English message ids of :class:`ResidentLinkError` codes (entry points translate them)."""


class ResidentLinkError(CodedError):
    """A link cannot be issued or revoked; ``code`` says why, ``message_id`` and ``params``
    are for the entry point to translate (``gettext(exc.message_id, **exc.params)``)."""

    messages = RESIDENT_LINK_MESSAGES


def hash_link_token(token: str) -> str:
    """The stored form of a link token: SHA-256, hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_resident_link(
    session: Session, issued_pass: IssuedPass, actor: str, now: datetime
) -> str:
    """Make a new personal link for ``issued_pass`` and return its token (shown once).

    Replaces any earlier link of this pass. Refused for a pass that is not active.
    """
    if issued_pass.status is not PassStatus.ACTIVE:
        raise ResidentLinkError("pass_not_active")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    replaced = issued_pass.resident_link_token_hash is not None
    issued_pass.resident_link_token_hash = hash_link_token(token)
    issued_pass.resident_link_revoked_at = None
    record_event(
        session,
        actor=actor,
        action="resident_link.reissue" if replaced else "resident_link.issue",
        community_id=issued_pass.community_id,
        subject_type="pass",
        subject_id=issued_pass.manual_code,
        details={"at": now.isoformat()},
    )
    session.flush()
    return token


def revoke_resident_link(
    session: Session, issued_pass: IssuedPass, actor: str, now: datetime, reason: str = ""
) -> None:
    """End the pass's link (e.g. a phone was lost); the pass itself stays valid."""
    if issued_pass.resident_link_token_hash is None or issued_pass.resident_link_revoked_at:
        return
    issued_pass.resident_link_revoked_at = now
    record_event(
        session,
        actor=actor,
        action="resident_link.revoke",
        community_id=issued_pass.community_id,
        subject_type="pass",
        subject_id=issued_pass.manual_code,
        reason=reason or None,
    )
    session.flush()


@dataclass(frozen=True)
class HouseholdLink:
    """A link just issued: the household's code and the secret token (shown once)."""

    household_code: str
    token: str


@dataclass(frozen=True)
class LinkRun:
    """The result of issuing links for several households."""

    links: list[HouseholdLink] = field(default_factory=list)
    without_pass: list[str] = field(default_factory=list)
    """Codes of the households left out: they hold no usable pass (issue one first)."""


def _live_links(session: Session, household_ids: Sequence[int]) -> list[IssuedPass]:
    if not household_ids:
        return []
    return list(
        session.scalars(
            select(IssuedPass)
            .where(
                IssuedPass.household_id.in_(list(household_ids)),
                IssuedPass.resident_link_token_hash.is_not(None),
                IssuedPass.resident_link_revoked_at.is_(None),
            )
            .order_by(IssuedPass.id)
        )
    )


def issue_household_links(
    session: Session, households: Sequence[Household], *, actor: str, now: datetime
) -> LinkRun:
    """Issue (or re-issue) one resident link per household, on its current usable pass.

    A household's earlier links (on this pass or an older one) stop working. Households
    without a usable pass are listed in :attr:`LinkRun.without_pass`; for a single household
    that is an error (``no_pass``). Each link is audited (``resident_link.issue``/``reissue``).
    """
    holding = usable_passes(session, households, now)
    if len(households) == 1 and households[0].id not in holding:
        raise ResidentLinkError("no_pass", household=households[0].code)
    older: dict[int, list[IssuedPass]] = {}
    for live in _live_links(session, [h.id for h in households]):
        older.setdefault(live.household_id, []).append(live)
    run = LinkRun()
    for household in households:
        current = holding.get(household.id)
        if current is None:
            run.without_pass.append(household.code)
            continue
        for stale in older.get(household.id, []):
            if stale.id != current.id:
                revoke_resident_link(session, stale, actor, now, reason="replaced")
        run.links.append(
            HouseholdLink(household.code, issue_resident_link(session, current, actor, now))
        )
    return run


def revoke_household_links(
    session: Session,
    households: Sequence[Household],
    *,
    actor: str,
    now: datetime,
    reason: str = "",
) -> list[str]:
    """End every live resident link of ``households``; return the codes of those that had one.

    For a single household without a live link: ``no_link``. Audited per link
    (``resident_link.revoke``). The passes themselves stay valid.
    """
    records = _live_links(session, [h.id for h in households])
    codes = {h.id: h.code for h in households}
    if len(households) == 1 and not records:
        raise ResidentLinkError("no_link", household=households[0].code)
    revoked: list[str] = []
    for record in records:
        revoke_resident_link(session, record, actor, now, reason=reason)
        if codes[record.household_id] not in revoked:
            revoked.append(codes[record.household_id])
    return revoked


def live_link_household_ids(session: Session, household_ids: Sequence[int]) -> set[int]:
    """Which of these households have a live resident link (for the office's pages)."""
    return {record.household_id for record in _live_links(session, household_ids)}


def links_workbook(rows: Sequence[tuple[str, str]], *, headers: tuple[str, str]) -> bytes:
    """An XLSX of (household code, link) rows under ``headers``, for the grid worker."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(headers))
    for code, url in rows:
        sheet.append([code, url])  # codes and URLs never start with "=": no formulas
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def find_linked_pass(session: Session, token: str) -> IssuedPass | None:
    """The pass whose live link ``token`` is, or None (unknown, malformed or revoked)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    record = session.scalar(
        select(IssuedPass).where(IssuedPass.resident_link_token_hash == hash_link_token(token))
    )
    if record is None or record.resident_link_revoked_at is not None:
        return None
    return record


StatusKind = Literal["home", "out", "quarantined"]


@dataclass(frozen=True)
class ResidentStatus:
    """Where the household stands now. Times are aware UTC."""

    kind: StatusKind
    out_since: datetime | None = None
    """Oldest exit of those still out (``kind == "out"``)."""
    people_out: int = 0
    quarantine_until: datetime | None = None
    """End of home quarantine (``kind == "quarantined"``; None: until lifted)."""
    exempt: bool = False
    next_exit_at: datetime | None = None
    """Earliest allowed outing by quota, hours and quarantine (None: not foreseeable)."""
    waits_for_return: bool = False
    """Nobody else may go out until someone comes home (people out at once limit)."""


@dataclass(frozen=True)
class ResidentPage:
    """What the resident page shows: no personal data beyond the masked label."""

    community_name: str
    label: str
    active: bool
    """False once the pass was revoked, replaced or expired: no QR is shown then."""
    issued_at: datetime
    valid_until: datetime
    status: ResidentStatus
    timezone: str
    rotating_codes: bool


def masked_label(session: Session, household: Household) -> str:
    """``3-2-401 张**``: the household code and the head's masked name."""
    head = session.scalar(
        select(Member.name)
        .where(Member.household_id == household.id)
        .order_by(*HEAD_FIRST)
        .limit(1)
    )
    return f"{household.code} {mask_name(head)}" if head else household.code


def resident_status(
    household: Household, context: CommunityContext, now: datetime
) -> ResidentStatus:
    """The household's status and next allowed outing, by the community's current rules."""
    state = household_state(household)
    kind: StatusKind = "home"
    if state.is_quarantined(now):
        kind = "quarantined"
    elif state.out_since:
        kind = "out"
    return ResidentStatus(
        kind=kind,
        out_since=state.out_since[0] if state.out_since else None,
        people_out=len(state.out_since),
        quarantine_until=state.quarantine_until if kind == "quarantined" else None,
        exempt=state.status is HouseholdStatus.EXEMPT,
        next_exit_at=next_exit_at(state, context.rules, now),
        waits_for_return=len(state.out_since) >= context.rules.max_out_at_once,
    )


def resident_page(
    session: Session,
    record: IssuedPass,
    *,
    context: CommunityContext,
    now: datetime,
) -> ResidentPage:
    """Everything the page at ``/p/<token>`` shows for ``record``."""
    household = session.get_one(Household, record.household_id)
    community = session.get_one(Community, record.community_id)
    active = (
        record.status is PassStatus.ACTIVE
        and record.generation == household.generation
        and record.valid_until >= now
    )
    return ResidentPage(
        community_name=community.name,
        label=masked_label(session, household),
        active=active,
        issued_at=record.issued_at,
        valid_until=record.valid_until,
        status=resident_status(household, context, now),
        timezone=context.timezone,
        rotating_codes=community.rotating_codes_enabled,
    )
