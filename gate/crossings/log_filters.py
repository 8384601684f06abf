"""Filtering the crossing log: one typed filter, shared by the log page, its export and the
``checkpoint crossings export`` command.

Entry points translate their input (the page's filter form, the command's options) into a
:class:`LogFilter`; everything about turning it into SQL lives here. Dates are local days of
the community's zone, both ends inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, literal, or_, select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.crossings.queries import fever_condition, local_day_bounds
from gate.devices.models import Gate
from gate.households.models import Household
from gate.households.operations import normalise_household_code
from gate.paging import DEFAULT_PAGE_SIZE, Page, keyset_page
from passes import Code, Direction

Verdict = Literal["allowed", "refused"]


@dataclass(frozen=True)
class LogFilter:
    """Which crossings of one community to show or export (None / False: no filter)."""

    community_id: int
    timezone: str
    """The community's zone: local days are cut in it and export times are shown in it."""
    date_from: date | None = None
    date_to: date | None = None
    """Inclusive."""
    gate_id: int | None = None
    direction: Direction | None = None
    verdict: Verdict | None = None
    code: str | None = None
    household_code: str | None = None
    """As typed: matched as given and in its normalised form."""
    fever_only: bool = False
    offline_only: bool = False
    conflict_only: bool = False
    late_only: bool = False
    """Only entries of people who came back later than the rules allow (``returned_late``)."""

    def audit_details(self) -> dict[str, Any]:
        """The filters as an audit event records them (JSON-ready, no None-only noise)."""
        details: dict[str, Any] = {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "gate_id": self.gate_id,
            "household": self.household_code,
        }
        optional = {
            "direction": self.direction.value if self.direction else None,
            "verdict": self.verdict,
            "code": self.code,
            "fever_only": self.fever_only or None,
            "offline_only": self.offline_only or None,
            "conflict_only": self.conflict_only or None,
            "late_only": self.late_only or None,
        }
        details.update({key: value for key, value in optional.items() if value is not None})
        return details


def filtered(query: Select[Any], log_filter: LogFilter) -> Select[Any]:
    """``query`` (over crossings) narrowed to ``log_filter``, always to its community."""
    f = log_filter
    query = query.where(Crossing.community_id == f.community_id)
    if f.date_from is not None:
        query = query.where(Crossing.scanned_at >= local_day_bounds(f.date_from, f.timezone)[0])
    if f.date_to is not None:
        query = query.where(Crossing.scanned_at < local_day_bounds(f.date_to, f.timezone)[1])
    if f.gate_id is not None:
        query = query.where(Crossing.gate_id == f.gate_id)
    if f.direction is not None:
        query = query.where(Crossing.direction == f.direction)
    if f.verdict is not None:
        query = query.where(Crossing.allowed.is_(f.verdict == "allowed"))
    if f.code:
        query = query.where(code_condition(f.code))
    if f.household_code:
        # An unknown household matches nothing (NULL = id is never true), not everything.
        household = _household_id(f.community_id, f.household_code)
        query = query.where(Crossing.household_id == household)
    if f.fever_only:
        query = query.where(fever_condition())
    if f.offline_only:
        query = query.where(Crossing.offline.is_(True))
    if f.conflict_only:
        query = query.where(Crossing.conflict.is_(True))
    if f.late_only:
        # Flags are space-separated codes and no other code contains "returned_late".
        query = query.where(Crossing.flags.like(f"%{Code.RETURNED_LATE.value}%"))
    return query


def code_condition(code: str) -> ColumnElement[bool]:
    """Crossings whose verdict carries ``code``. An override is stored with the refusal it let
    through as its code (``quota``) and ``override`` among its flags, so ``override`` finds
    those; every other code is the verdict's primary one."""
    if code != Code.OVERRIDE.value:
        return Crossing.code == code
    # Flags are space-separated codes; other flags start with "override" too
    # (override_refused, override_unverified), so only the whole word counts.
    padded = literal(" ") + Crossing.flags + literal(" ")
    return or_(Crossing.code == code, padded.like(f"% {code} %"))


def _household_id(community_id: int, code: str) -> Any:
    codes = {code.strip(), normalise_household_code(code)}
    return (
        select(Household.id)
        .where(Household.community_id == community_id, Household.code.in_(codes))
        .limit(1)
        .scalar_subquery()
    )


def log_page(
    session: Session, log_filter: LogFilter, *, token: str | None, size: int = DEFAULT_PAGE_SIZE
) -> Page[Crossing]:
    """One keyset page of the filtered log, newest first (``gate.paging``; a bad token raises
    :class:`gate.paging.PagingError`)."""
    return keyset_page(
        session,
        filtered(select(Crossing), log_filter),
        at_column=Crossing.scanned_at,
        id_column=Crossing.id,
        token=token,
        size=size,
    )


def count_log(session: Session, log_filter: LogFilter) -> int:
    """How many crossings match ``log_filter``."""
    return int(session.scalar(filtered(select(func.count(Crossing.id)), log_filter)) or 0)


@dataclass(frozen=True)
class GateChoice:
    """A gate as a filter offers it."""

    id: int
    code: str
    name: str


def gate_choices(session: Session, community_id: int) -> list[GateChoice]:
    """The community's gates, by code."""
    rows = session.execute(
        select(Gate.id, Gate.code, Gate.name)
        .where(Gate.community_id == community_id)
        .order_by(Gate.code)
    )
    return [GateChoice(*row) for row in rows]


def gate_id_by_code(session: Session, community_id: int, code: str) -> int | None:
    """The id of gate ``code`` of the community, or None."""
    return session.scalar(
        select(Gate.id).where(Gate.community_id == community_id, Gate.code == code)
    )


def crossing_labels(
    session: Session, crossings: Iterable[Crossing]
) -> tuple[dict[int, str], dict[int, str]]:
    """Gate names (as the office named them) by gate id and household codes by household id
    for ``crossings``."""
    listed = list(crossings)
    gate_ids = {c.gate_id for c in listed}
    household_ids = {c.household_id for c in listed if c.household_id is not None}
    gate_rows = session.execute(select(Gate.id, Gate.name).where(Gate.id.in_(gate_ids)))
    household_rows = session.execute(
        select(Household.id, Household.code).where(Household.id.in_(household_ids))
    )
    gates = {row[0]: row[1] for row in gate_rows}
    households = {row[0]: row[1] for row in household_rows}
    return gates, households
