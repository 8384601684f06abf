"""Cards leaving the office: one card as a PNG, or A4 sheets of many as a PDF.

Each records its audit event itself (``pass.card``, ``pass.print``), so the CLI and the
console leave the same trace. Printing is two steps so that the entry point can end its
transaction between them: :func:`prepare_sheets` reads everything the cards need (short),
:func:`print_sheets` renders without touching the database (long), then records the event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Community
from gate.households.models import Household
from gate.issuing.cards import CardBuilder, usable_passes
from gate.issuing.models import IssuedPass
from gate.issuing.operations import IssuingError
from gate.issuing.printing import Card, render_card_png, render_card_sheets_pdf


def card_png(
    session: Session,
    community: Community,
    household: Household,
    record: IssuedPass,
    *,
    actor: str,
    file_name: str,
) -> bytes:
    """``record``'s card (a pass of ``household``) as a 300 dpi PNG; records ``pass.card``.

    Rendering one card takes a few tens of milliseconds, so it is done in the caller's
    transaction. Raises :class:`IssuingError` when the pass's key cannot sign here.
    """
    png = render_card_png(CardBuilder(session, community).card(household, record))
    record_event(
        session,
        actor=actor,
        action="pass.card",
        community_id=community.id,
        subject_type="household",
        subject_id=household.code,
        details={"manual_code": record.manual_code, "file": file_name},
    )
    session.flush()
    return png


@dataclass(frozen=True)
class SheetRun:
    """What :func:`print_sheets` needs, read in advance: the households, their usable
    passes and a card builder with every signing key loaded."""

    community_id: int
    households: Sequence[Household]
    passes: Mapping[int, IssuedPass]
    builder: CardBuilder

    @property
    def without_pass(self) -> list[str]:
        """Codes of the households left out: they hold no valid pass."""
        return [h.code for h in self.households if h.id not in self.passes]

    def cards(self) -> Iterator[Card]:
        """The cards in address order, made lazily (no database access)."""
        return self.builder.cards(self.households, dict(self.passes))


def prepare_sheets(
    session: Session, community: Community, households: Sequence[Household], *, now: dt.datetime
) -> SheetRun:
    """Read what printing ``households``' current cards needs.

    The households' buildings MUST be loaded (the households queries load them). Raises
    :class:`IssuingError` ``nothing_to_print`` when none holds a valid pass, or a signing
    key code when a pass's key cannot sign here.
    """
    passes = usable_passes(session, households, now)
    if not passes:
        raise IssuingError("nothing_to_print")
    builder = CardBuilder(session, community)
    builder.load_keys(passes.values())
    return SheetRun(community.id, households, passes, builder)


def print_sheets(
    session: Session,
    run: SheetRun,
    out: BinaryIO,
    *,
    actor: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``run``'s cards to ``out`` as A4 PDF sheets; record ``pass.print``; return the
    number of pages.

    Rendering does not touch the database: the caller MAY end its transaction before this
    call; the event then begins a short new one. ``subject`` names the print (a file or a
    place); ``details`` are added to the event's (cards, pages, households without pass).
    """
    pages = render_card_sheets_pdf(run.cards(), out, on_progress=on_progress)
    record_event(
        session,
        actor=actor,
        action="pass.print",
        community_id=run.community_id,
        subject_type="print",
        subject_id=subject,
        details={
            "cards": len(run.passes),
            "pages": pages,
            "without_pass": len(run.without_pass),
            **(details or {}),
        },
    )
    session.flush()
    return pages
