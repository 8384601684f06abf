"""Planning the roster: shifts from local time slots for a run of days, copying a week,
assigning people, taking them off, removing a shift that has not begun.

Every change is all-or-nothing (a refusal raises :class:`RosterError` before anything is
added) and audited: ``roster.plan``, ``roster.copy``, ``roster.assign``, ``roster.unassign``,
``roster.remove`` (``roster.export`` by :mod:`gate.roster.export`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.operations import find_user
from gate.audit.operations import record_event
from gate.devices.models import Gate
from gate.errors import N_, CodedError
from gate.roster.models import Duty, DutyAssignment, DutyShift
from gate.roster.queries import DUTY_ROLES, community_zone, day_span

MAX_DAYS = 31
MAX_NAME = 32
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may be on a shift as its supervisor."""

ROSTER_MESSAGES: dict[str, str] = {
    "bad_slots": N_(
        "Time slots are written like 06:00-14:00,14:00-22:00 (a slot may cross midnight:"
        " 22:00-06:00)."
    ),
    "bad_days": N_("A plan covers 1 to %(max_days)d days."),
    "no_such_gate": N_("No gate %(gate)s in this community."),
    "gate_closed": N_("The gate %(gate)s is closed."),
    "overlap": N_("The gate %(gate)s already has a shift overlapping %(when)s."),
    "no_such_shift": N_("There is no shift %(shift)s in this community."),
    "shift_started": N_("The shift %(shift)s has already begun: it stays in the roster."),
    "no_such_user": N_("There is no account %(username)s in this community."),
    "user_disabled": N_("The account %(username)s is disabled."),
    "not_a_supervisor": N_(
        "The account %(username)s is not a supervisor: give it the supervisor role first."
    ),
    "not_gate_staff": N_("The account %(username)s cannot be on duty at a gate (its role)."),
    "name_or_account": N_("Give either an account or a name (1-32 characters), not both."),
    "name_is_volunteer": N_("A name without an account can only be on duty as a volunteer."),
    "already_assigned": N_("%(name)s is already on this shift."),
    "no_such_assignment": N_("That person is not on this shift."),
    "nothing_to_copy": N_("The week of %(week)s has no shifts to copy."),
}
"""The English message id of each :class:`RosterError` code."""


class RosterError(CodedError):
    """A roster change was refused: a stable ``code`` and its params."""

    messages = ROSTER_MESSAGES


@dataclass(frozen=True)
class Slot:
    """A local time slot; ``end <= start`` means it ends on the next day."""

    start: time
    end: time

    def span(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The slot on ``day`` as aware datetimes in ``zone``."""
        starts = datetime.combine(day, self.start, zone)
        end_day = day + timedelta(days=1) if self.end <= self.start else day
        return starts, datetime.combine(end_day, self.end, zone)

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_SLOT = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–~～至]\s*(\d{1,2}):(\d{2})\s*")


def parse_slots(text: str) -> list[Slot]:
    """``06:00-14:00,14:00-22:00`` (commas, Chinese commas, semicolons or spaces between
    slots; ``24:00`` is midnight). Raises :class:`RosterError` ``bad_slots``."""
    parts = [part for part in re.split(r"[,，;；\s]+", text.strip()) if part]
    slots: list[Slot] = []
    for part in parts:
        match = _SLOT.fullmatch(part)
        if match is None:
            raise RosterError("bad_slots")
        h1, m1, h2, m2 = (int(value) for value in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise RosterError("bad_slots")
        slot = Slot(time(h1, m1), time(h2 % 24, m2))
        if slot.start == slot.end and h2 != 24:
            raise RosterError("bad_slots")
        slots.append(slot)
    if not slots:
        raise RosterError("bad_slots")
    return slots


def find_roster_gate(session: Session, community_id: int, code_or_id: str | int) -> Gate:
    """A gate of the community by its code (CLI) or id (pages; a code wins when a gate's code
    is all digits). Raises ``no_such_gate``."""
    query = select(Gate).where(Gate.community_id == community_id)
    text = str(code_or_id).strip()
    gate = session.scalar(query.where(Gate.code == text.lower()))
    if gate is None and text.isdigit():
        gate = session.scalar(query.where(Gate.id == int(text)))
    if gate is None:
        raise RosterError("no_such_gate", gate=text)
    return gate


def _gate_shifts(session: Session, gate_id: int, start: datetime, end: datetime) -> list[DutyShift]:
    return list(
        session.scalars(
            select(DutyShift).where(
                DutyShift.gate_id == gate_id, DutyShift.starts_at < end, DutyShift.ends_at > start
            )
        )
    )


def _place(
    session: Session, gate: Gate, spans: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The spans not yet in the roster; raises ``overlap`` for one that clashes with an
    existing shift (or another span) without being the same shift."""
    fresh: list[tuple[datetime, datetime]] = []
    for starts, ends in sorted(spans):
        existing = _gate_shifts(session, gate.id, starts, ends)
        if any(s.starts_at == starts and s.ends_at == ends for s in existing):
            continue  # planned already: planning twice is not an error
        if existing or any(f[0] < ends and f[1] > starts for f in fresh):
            when = starts.astimezone(community_zone(session, gate.community_id))
            raise RosterError("overlap", gate=gate.name, when=f"{when:%m-%d %H:%M}")
        fresh.append((starts, ends))
    return fresh


def plan_shifts(
    session: Session,
    *,
    community_id: int,
    gate: Gate,
    first_day: date,
    days: int,
    slots: Sequence[Slot],
    needs_supervisor: bool = False,
    actor: str,
) -> list[DutyShift]:
    """Add the shifts of ``slots`` (local times of the community) on each of ``days`` days
    from ``first_day`` at ``gate``. Shifts already planned with the same times are kept;
    one that would overlap another raises ``overlap`` and nothing is added.

    Audited as ``roster.plan`` (gate, days, slots, how many shifts were added)."""
    if not 1 <= days <= MAX_DAYS:
        raise RosterError("bad_days", max_days=MAX_DAYS)
    if gate.closed_at is not None:
        raise RosterError("gate_closed", gate=gate.name)
    zone = community_zone(session, community_id)
    spans = [
        slot.span(first_day + timedelta(days=offset), zone)
        for offset in range(days)
        for slot in slots
    ]
    added = [
        DutyShift(
            community_id=community_id,
            gate_id=gate.id,
            starts_at=starts,
            ends_at=ends,
            needs_supervisor=needs_supervisor,
            created_by=actor[:64],
        )
        for starts, ends in _place(session, gate, spans)
    ]
    session.add_all(added)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="roster.plan",
        community_id=community_id,
        subject_type="gate",
        subject_id=gate.code,
        details={
            "first_day": first_day.isoformat(),
            "days": days,
            "slots": ",".join(slot.label() for slot in slots),
            "added": len(added),
        },
    )
    return added


def copy_week(
    session: Session,
    *,
    community_id: int,
    source_monday: date,
    target_monday: date,
    gate: Gate | None = None,
    actor: str,
) -> list[DutyShift]:
    """Copy the shifts of the week from ``source_monday`` (all gates, or ``gate``) with their
    people to the week from ``target_monday``, at the same local times. Shifts already there
    with the same times are kept as they are; an overlap raises ``overlap``, nothing added.

    Audited as ``roster.copy``."""
    zone = community_zone(session, community_id)
    start, end = day_span(source_monday, zone, days=7)
    query = select(DutyShift).where(
        DutyShift.community_id == community_id,
        DutyShift.starts_at >= start,
        DutyShift.starts_at < end,
    )
    if gate is not None:
        query = query.where(DutyShift.gate_id == gate.id)
    sources = list(session.scalars(query.order_by(DutyShift.starts_at)))
    if not sources:
        raise RosterError("nothing_to_copy", week=source_monday.isoformat())
    shift_days = (target_monday - source_monday).days
    added: list[DutyShift] = []
    for source in sources:
        target_gate = session.get(Gate, source.gate_id)
        assert target_gate is not None
        if target_gate.closed_at is not None:
            continue  # a closed gate gets no new shifts
        # Same local wall-clock times, whatever the UTC offset does in between.
        starts = _moved(source.starts_at, shift_days, zone)
        ends = _moved(source.ends_at, shift_days, zone)
        if not _place(session, target_gate, [(starts, ends)]):
            continue
        shift = DutyShift(
            community_id=community_id,
            gate_id=source.gate_id,
            starts_at=starts,
            ends_at=ends,
            needs_supervisor=source.needs_supervisor,
            created_by=actor[:64],
        )
        session.add(shift)
        session.flush()
        for person in session.scalars(
            select(DutyAssignment).where(DutyAssignment.shift_id == source.id)
        ):
            session.add(
                DutyAssignment(
                    shift_id=shift.id,
                    user_id=person.user_id,
                    name=person.name,
                    duty=person.duty,
                    assigned_by=actor[:64],
                )
            )
        added.append(shift)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="roster.copy",
        community_id=community_id,
        subject_type="gate" if gate is not None else "roster",
        subject_id=gate.code if gate is not None else None,
        details={
            "from": source_monday.isoformat(),
            "to": target_monday.isoformat(),
            "added": len(added),
        },
    )
    return added


def _moved(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=zone)


def roster_shift(session: Session, community_id: int, shift_id: int) -> DutyShift:
    """A shift of the community; raises ``no_such_shift``."""
    shift = session.get(DutyShift, shift_id)
    if shift is None or shift.community_id != community_id:
        raise RosterError("no_such_shift", shift=shift_id)
    return shift


def assign(
    session: Session,
    *,
    community_id: int,
    shift_id: int,
    duty: Duty,
    username: str | None = None,
    name: str | None = None,
    actor: str,
) -> DutyAssignment:
    """Put an account (``username``) or a free-text ``name`` (a volunteer without an
    account) on a shift. A supervisor duty needs a supervisor or admin account.

    Audited as ``roster.assign`` (the name is a volunteer's name on the roster, not a
    resident's: the roster is the office's own staff list)."""
    shift = roster_shift(session, community_id, shift_id)
    name = (name or "").strip() or None
    username = (username or "").strip() or None
    if (name is None) == (username is None) or (name is not None and len(name) > MAX_NAME):
        raise RosterError("name_or_account")
    user: User | None = None
    if username is not None:
        user = find_user(session, username)
        if user is None or user.community_id != community_id:
            raise RosterError("no_such_user", username=username)
        if user.disabled_at is not None:
            raise RosterError("user_disabled", username=user.username)
        role = Role(user.role)
        if duty is Duty.SUPERVISOR and role not in SUPERVISOR_ROLES:
            raise RosterError("not_a_supervisor", username=user.username)
        if role not in DUTY_ROLES:
            raise RosterError("not_gate_staff", username=user.username)
    elif duty is not Duty.VOLUNTEER:
        raise RosterError("name_is_volunteer")
    clash = select(DutyAssignment.id).where(DutyAssignment.shift_id == shift.id)
    clash = clash.where(
        DutyAssignment.user_id == user.id if user is not None else DutyAssignment.name == name
    )
    shown = user.display_name if user is not None else name or ""
    if session.scalar(clash) is not None:
        raise RosterError("already_assigned", name=shown)
    assignment = DutyAssignment(
        shift_id=shift.id,
        user_id=None if user is None else user.id,
        name=name,
        duty=duty,
        assigned_by=actor[:64],
    )
    session.add(assignment)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="roster.assign",
        community_id=community_id,
        user_id=None if user is None else user.id,
        subject_type="duty_shift",
        subject_id=shift.id,
        details={"duty": duty.value, "name": shown},
    )
    return assignment


def unassign(session: Session, *, community_id: int, assignment_id: int, actor: str) -> DutyShift:
    """Take a person off their shift. Audited as ``roster.unassign``."""
    assignment = session.get(DutyAssignment, assignment_id)
    shift = None if assignment is None else session.get(DutyShift, assignment.shift_id)
    if assignment is None or shift is None or shift.community_id != community_id:
        raise RosterError("no_such_assignment")
    shown = assignment.name
    if assignment.user_id is not None:
        user = session.get(User, assignment.user_id)
        shown = user.display_name if user is not None else None
    session.delete(assignment)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="roster.unassign",
        community_id=community_id,
        user_id=assignment.user_id,
        subject_type="duty_shift",
        subject_id=shift.id,
        details={"duty": assignment.duty.value, "name": shown or ""},
    )
    return shift


def remove_shift(
    session: Session, *, community_id: int, shift_id: int, actor: str, now: datetime
) -> None:
    """Remove a shift that has not begun, with its assignments (a shift that has begun may
    be named by crossings: it stays). Audited as ``roster.remove``."""
    shift = roster_shift(session, community_id, shift_id)
    if shift.starts_at <= now:
        raise RosterError("shift_started", shift=shift_id)
    session.execute(delete(DutyAssignment).where(DutyAssignment.shift_id == shift.id))
    session.delete(shift)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="roster.remove",
        community_id=community_id,
        subject_type="duty_shift",
        subject_id=shift_id,
        details={"starts_at": shift.starts_at.isoformat(), "ends_at": shift.ends_at.isoformat()},
    )
