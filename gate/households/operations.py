"""Household operations: find households by code or place, and set their status with a reason.

Status changes are audited (``household.quarantine``, ``household.exempt``,
``household.normal``) with the reason and the before/after values; they flush, never commit.

Quarantine dates are local calendar dates: "隔离至 11-30" means the household stays in through
the whole of 30 November, so the quarantine ends at the local midnight that starts 1 December
(:func:`quarantine_end`). The core lifts it by itself at that instant.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from gate.audit.operations import record_event
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.errors import N_, CodedError
from gate.households.models import Household, Member
from gate.households.place_names import normalise_place_name
from gate.households.status_history import StatusSnapshot, record_status_change
from passes.state import HouseholdStatus

_QUERY_CHUNK = 500  # keeps IN (...) lists well under every backend's parameter limit


HOUSEHOLD_MESSAGES: dict[str, str] = {
    "no_household": N_("There is no household %(code)s."),
    "no_such_households": N_("No such household: %(codes)s."),
    "no_building": N_("There is no building %(key)s."),
    "no_grid": N_("There is no grid %(key)s."),
    "several_selectors": N_("Choose households by codes, by building or by grid, not several."),
    "quarantine_date_passed": N_("The quarantine end date %(until)s has already passed."),
    "quarantine_date_required": N_("Choose the last day of the quarantine."),
    "reason_required": N_("A status change needs a reason."),
}
"""The English message id of each :class:`HouseholdError` code (parameters: its ``params``)."""


class HouseholdError(CodedError, LookupError):
    """A household could not be found or changed: a stable ``code`` and its ``params``.

    Entry points show ``gettext(exc.message_id, **exc.params)`` (CLIs: Chinese first);
    ``str()`` is the English text, for logs.
    """

    messages = HOUSEHOLD_MESSAGES


def head_of(household: Household) -> Member | None:
    """The head of household (户主): the member marked ``is_head``, else the first member.

    The one copy of this rule; SQL that must pick the same member orders by
    :data:`HEAD_FIRST`.
    """
    members = household.members
    return next((m for m in members if m.is_head), None) or next(iter(members), None)


HEAD_FIRST = (Member.is_head.desc(), Member.id)
"""``ORDER BY`` that puts a household's head first (then the oldest member), as :func:`head_of`."""


def normalise_household_code(text: str) -> str:
    """The stored form of a household code: NFKC, no whitespace, ASCII letters upper-cased.

    The same rule the import's validation applies, so ``3-2-401`` typed with full-width
    digits finds the imported household.
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def find_household(session: Session, community: Community, code: str) -> Household:
    """The household ``code`` of ``community``; :class:`HouseholdError` when there is none."""
    normalised = normalise_household_code(code)
    household = session.scalar(
        select(Household).where(
            Household.community_id == community.id, Household.code == normalised
        )
    )
    if household is None:
        raise HouseholdError("no_household", code=normalised)
    return household


def households_by_code(
    session: Session, community: Community, codes: Iterable[str]
) -> dict[str, Household]:
    """Existing households of ``community`` among ``codes`` (already normalised), by code.

    Members are loaded with them.
    """
    wanted = sorted(set(codes))
    found: dict[str, Household] = {}
    for start in range(0, len(wanted), _QUERY_CHUNK):
        chunk = wanted[start : start + _QUERY_CHUNK]
        rows = session.scalars(
            select(Household)
            .options(selectinload(Household.members))
            .where(Household.community_id == community.id, Household.code.in_(chunk))
        )
        found.update((row.code, row) for row in rows)
    return found


def select_households(
    session: Session,
    community: Community,
    *,
    codes: Sequence[str] = (),
    building: str | None = None,
    grid: str | None = None,
) -> list[Household]:
    """Households of ``community``: those named in ``codes``, or in a building or grid, or all.

    At most one of ``codes``/``building``/``grid`` may be given. ``building`` and ``grid``
    match a code or a name; a building also any spelling of its number (``七号楼``).
    Unknown codes, buildings or grids raise :class:`HouseholdError` (a typo must not
    silently select nothing). The result is in address order (building, unit, room, with
    numbers compared as numbers).
    """
    if sum(bool(x) for x in (codes, building, grid)) > 1:
        raise HouseholdError("several_selectors")
    if codes:
        wanted = [normalise_household_code(c) for c in codes]
        found = households_by_code(session, community, wanted)
        missing = [c for c in wanted if c not in found]
        if missing:
            raise HouseholdError("no_such_households", codes=", ".join(missing))
        return sorted(found.values(), key=address_key)
    query: Select[Household] = select(Household).where(Household.community_id == community.id)
    if building is not None:
        building_ids = _place_ids(session, community, Building, building)
        query = query.where(Household.building_id.in_(building_ids))
    if grid is not None:
        grid_ids = _place_ids(session, community, Grid, grid)
        query = query.join(Household.building).join(Building.compound)
        query = query.where(Compound.grid_id.in_(grid_ids))
    return sorted(session.scalars(query.options(selectinload(Household.building))), key=address_key)


def _place_ids(
    session: Session, community: Community, model: type[Building] | type[Grid], key: str
) -> list[int]:
    query = select(model.id).where((model.code == key) | (model.name == key))
    if model is Building:  # 七号楼, 7栋 and 7 name building 7 (codes are stored normalised)
        spelled = normalise_place_name(key, "building")
        query = select(Building.id).where(
            (Building.code == key) | (Building.name == key) | (Building.code == spelled)
        )
        query = query.join(Building.compound).join(Compound.grid)
    query = query.join(Grid.area).where(Area.community_id == community.id)
    ids = list(session.scalars(query))
    if not ids:
        raise HouseholdError("no_building" if model is Building else "no_grid", key=key)
    return ids


def _natural(text: str | None) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", text or "")
        if part
    )


def address_key(household: Household) -> tuple[object, ...]:
    """Sort key: building code, unit, room, code; digits compare as numbers (2 before 10)."""
    building = household.building.code if household.building is not None else ""
    return (_natural(building), _natural(household.unit), _natural(household.room), household.code)


# --- status -------------------------------------------------------------------------------------


def quarantine_end(until: dt.date, timezone: str) -> dt.datetime:
    """The UTC instant a quarantine "through ``until``" ends: the next local midnight."""
    next_day = until + dt.timedelta(days=1)
    return dt.datetime.combine(next_day, dt.time(0), tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)


def set_quarantine(
    session: Session,
    household: Household,
    *,
    until: dt.date,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> None:
    """Put the household in home quarantine through the local date ``until`` (inclusive).

    Exits are refused until the local midnight after ``until``; entries stay allowed.
    ``until`` MUST NOT be before today (local): such a quarantine would already be over.
    """
    zone = household.community.timezone
    end = quarantine_end(until, zone)
    if end <= now:
        raise HouseholdError("quarantine_date_passed", until=until.isoformat())
    _change_status(
        session,
        household,
        HouseholdStatus.QUARANTINED,
        end,
        actor=actor,
        reason=reason,
        extra={"until_local_date": until.isoformat()},
    )


def set_exempt(session: Session, household: Household, *, actor: str, reason: str) -> None:
    """Mark the household exempt (essential work: no outing quota); lifts any quarantine."""
    _change_status(session, household, HouseholdStatus.EXEMPT, None, actor=actor, reason=reason)


def set_normal(session: Session, household: Household, *, actor: str, reason: str) -> None:
    """Return the household to normal rules; lifts any quarantine or exemption."""
    _change_status(session, household, HouseholdStatus.NORMAL, None, actor=actor, reason=reason)


STATUS_ACTIONS = ("quarantine", "exempt", "normal")


def change_status(
    session: Session,
    household: Household,
    action: str,
    *,
    until: dt.date | None,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> None:
    """One of :data:`STATUS_ACTIONS` (what the office's status form and CLI offer).

    ``quarantine`` needs ``until`` (``quarantine_date_required``); the others ignore it.
    """
    if action == "quarantine":
        if until is None:
            raise HouseholdError("quarantine_date_required")
        set_quarantine(session, household, until=until, actor=actor, reason=reason, now=now)
    elif action == "exempt":
        set_exempt(session, household, actor=actor, reason=reason)
    elif action == "normal":
        set_normal(session, household, actor=actor, reason=reason)
    else:
        raise ValueError(f"unknown status action {action!r}")


_ACTIONS = {
    HouseholdStatus.QUARANTINED: "household.quarantine",
    HouseholdStatus.EXEMPT: "household.exempt",
    HouseholdStatus.NORMAL: "household.normal",
}


def _change_status(
    session: Session,
    household: Household,
    status: HouseholdStatus,
    until: dt.datetime | None,
    *,
    actor: str,
    reason: str,
    extra: dict[str, str] | None = None,
) -> None:
    if not reason.strip():
        raise HouseholdError("reason_required")
    before = {
        "status": household.status.value,
        "quarantine_until": _iso(household.quarantine_until),
    }
    previous = StatusSnapshot.of(household)
    household.status = status
    household.quarantine_until = until
    household.status_reason = reason.strip()
    record_status_change(session, household, previous=previous)
    record_event(
        session,
        actor=actor,
        action=_ACTIONS[status],
        community_id=household.community_id,
        subject_type="household",
        subject_id=household.code,
        reason=reason.strip(),
        details={
            "before": before,
            "after": {"status": status.value, "quarantine_until": _iso(until)},
            **(extra or {}),
        },
    )
    session.flush()


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
