"""Reading errands: the office's filtered list, a volunteer's own, a household's; squads,
runners and grids for the forms. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.community.models import Area, Building, Compound, Grid
from gate.errands.models import Errand, ErrandSquad, ErrandSquadMember, ErrandStatus
from gate.errands.operations import errand_eligible, squad_ids_of
from gate.errands.status import OPEN, RUNNER_ROLES
from gate.households.models import Household

LIST_LIMIT = 500
"""Rows of one list page (the export has no limit)."""


@dataclass(frozen=True)
class ErrandRow:
    """An errand as lists show it: its household's code and grid, and who runs it."""

    errand: Errand
    household_code: str
    grid_id: int
    grid_name: str
    assignee: str
    """The volunteer's display name, or the squad's name; "" when not assigned."""
    accepted_by: str
    assignee_key: str = ""
    """``u:<username>`` or ``s:<squad name>`` (what the assignment forms post); "" if none."""

    @property
    def item_list(self) -> list[str]:
        return [line for line in self.errand.items.splitlines() if line]


@dataclass(frozen=True)
class ErrandFilter:
    """The list's filters; None: any. ``day`` is a local date of ``created_at``;
    ``user_id`` matches the assignee, the accepting volunteer or a squad they are in."""

    grid_id: int | None = None
    user_id: int | None = None
    squad_id: int | None = None
    status: ErrandStatus | None = None
    day: date | None = None
    household_code: str | None = None


def _base(community_id: int) -> Select[Errand, str, int, str]:
    return (
        select(Errand, Household.code, Grid.id, Grid.name)
        .join(Household, Household.id == Errand.household_id)
        .join(Building, Building.id == Household.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .join(Grid, Grid.id == Compound.grid_id)
        .where(Errand.community_id == community_id)
    )


def list_errands(
    session: Session,
    community_id: int,
    where: ErrandFilter,
    *,
    timezone: str,
    limit: int | None = LIST_LIMIT,
) -> list[ErrandRow]:
    """The community's errands matching ``where``, open ones first, then newest first."""
    query = _base(community_id)
    if where.grid_id is not None:
        query = query.where(Grid.id == where.grid_id)
    if where.status is not None:
        query = query.where(Errand.status == where.status)
    if where.household_code:
        query = query.where(Household.code == where.household_code)
    if where.squad_id is not None:
        query = query.where(Errand.squad_id == where.squad_id)
    if where.user_id is not None:
        query = query.where(_runs(session, where.user_id))
    if where.day is not None:
        start = datetime.combine(where.day, time(), ZoneInfo(timezone))
        query = query.where(
            Errand.created_at >= start, Errand.created_at < start + timedelta(days=1)
        )
    query = query.order_by(Errand.status.in_(list(OPEN)).desc(), Errand.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return _rows(session, session.execute(query).all())


def _runs(session: Session, user_id: int) -> ColumnElement[bool]:
    squads = squad_ids_of(session, user_id)
    clauses = [Errand.assignee_user_id == user_id, Errand.accepted_by_user_id == user_id]
    if squads:
        clauses.append(Errand.squad_id.in_(squads))
    return or_(*clauses)


def my_errands(
    session: Session, community_id: int, user_id: int, *, since: datetime
) -> list[ErrandRow]:
    """What the volunteer ``user_id`` has to do: open errands assigned to them or their
    squads (a squad's errand someone else accepted is no longer theirs), and those they
    delivered since ``since``. Open first, oldest first (the longest wait at the top)."""
    query = (
        _base(community_id)
        .where(_runs(session, user_id))
        .where(
            or_(
                Errand.status.in_(list(OPEN)),
                (Errand.status == ErrandStatus.DELIVERED) & (Errand.delivered_at >= since),
            )
        )
        .order_by(Errand.status.in_(list(OPEN)).desc(), Errand.id)
    )
    rows = _rows(session, session.execute(query).all())
    return [row for row in rows if row.errand.accepted_by_user_id in (None, user_id)]


def household_errands(session: Session, household_id: int, *, limit: int = 20) -> list[Errand]:
    """The household's latest errands, newest first (the resident's page)."""
    return list(
        session.scalars(
            select(Errand)
            .where(Errand.household_id == household_id)
            .order_by(Errand.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class HouseholdErrands:
    """What the resident's page shows: the household's latest errands, and whether it may
    ask for one now (in home quarantine)."""

    household_id: int
    may_ask: bool
    errands: list[Errand]


def errands_of_household(session: Session, household_id: int, *, now: datetime) -> HouseholdErrands:
    """The household's errands for its phone page (reads only)."""
    household = session.get(Household, household_id)
    eligible = household is not None and errand_eligible(session, household, now)
    return HouseholdErrands(household_id, eligible, household_errands(session, household_id))


def household_code(session: Session, household_id: int) -> str:
    """The household's code ("" if it is gone)."""
    household = session.get(Household, household_id)
    return "" if household is None else household.code


def _rows(session: Session, found: object) -> list[ErrandRow]:
    results = list(found)  # type: ignore[call-overload]
    user_ids = {
        user_id
        for errand, *_ in results
        for user_id in (errand.assignee_user_id, errand.accepted_by_user_id)
        if user_id is not None
    }
    squad_ids = {errand.squad_id for errand, *_ in results if errand.squad_id is not None}
    names, usernames = _user_names(session, user_ids)
    squads: dict[int, str] = {}
    if squad_ids:
        found_squads = session.execute(
            select(ErrandSquad.id, ErrandSquad.name).where(ErrandSquad.id.in_(squad_ids))
        )
        squads = {row.id: row.name for row in found_squads}
    rows = []
    for errand, code, grid_id, grid_name in results:
        key = ""
        if errand.assignee_user_id is not None:
            assignee = names.get(errand.assignee_user_id, "")
            key = "u:" + usernames.get(errand.assignee_user_id, "")
        elif errand.squad_id is not None:
            assignee = squads.get(errand.squad_id, "")
            key = "s:" + assignee
        else:
            assignee = ""
        accepted = names.get(errand.accepted_by_user_id, "") if errand.accepted_by_user_id else ""
        rows.append(ErrandRow(errand, code, grid_id, grid_name, assignee, accepted, key))
    return rows


def _user_names(session: Session, user_ids: set[int]) -> tuple[dict[int, str], dict[int, str]]:
    """Display names and usernames of ``user_ids``."""
    if not user_ids:
        return {}, {}
    rows = session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(user_ids))
    ).all()
    names = {user_id: display or username for user_id, display, username in rows}
    return names, {user_id: username for user_id, _display, username in rows}


def runners(session: Session, community_id: int) -> list[User]:
    """Accounts that may run errands (volunteers, supervisors, admins; not disabled)."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.community_id == community_id,
                User.disabled_at.is_(None),
                User.role.in_([role.value for role in RUNNER_ROLES if role is not Role.ADMIN]),
            )
            .order_by(User.display_name, User.username)
        )
    )


def squads(session: Session, community_id: int) -> list[tuple[ErrandSquad, list[User]]]:
    """The community's squads by name, each with its members."""
    found = list(
        session.scalars(
            select(ErrandSquad)
            .where(ErrandSquad.community_id == community_id)
            .order_by(ErrandSquad.name)
        )
    )
    members: dict[int, list[User]] = {squad.id: [] for squad in found}
    if found:
        rows = session.execute(
            select(ErrandSquadMember.squad_id, User)
            .join(User, User.id == ErrandSquadMember.user_id)
            .where(ErrandSquadMember.squad_id.in_(list(members)))
            .order_by(User.display_name)
        )
        for squad_id, user in rows:
            members[squad_id].append(user)
    return [(squad, members[squad.id]) for squad in found]


def grids(session: Session, community_id: int) -> list[Grid]:
    """The community's grids by name (the list's grid filter)."""
    return list(
        session.scalars(
            select(Grid)
            .join(Area, Area.id == Grid.area_id)
            .where(Area.community_id == community_id)
            .order_by(Grid.name)
        )
    )
