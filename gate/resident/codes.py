"""The batch of screen codes a resident's phone holds, so the page keeps working with poor
signal and offline once opened, and never longer than a bounded horizon.

The page shows each held code for :data:`SHOW_SECONDS`, one after the other; each stays
valid at the gate :data:`~gate.issuing.screen_codes.LIFETIME` from
:data:`~gate.issuing.screen_codes.BACKDATE` before its turn, so a code is still accepted a
minute after the page moved on (a slow queue, a gate clock a little behind) and a screenshot
of it is refused as ``screen_code_stale`` two minutes later. The page holds at most
:data:`HELD_CODES` (five minutes of showing; the last one's validity ends six minutes after
it was fetched) and fetches a new batch every minute while online; a revoked link gets a 404
at once and the page drops what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gate.issuing.models import IssuedPass
from gate.issuing.screen_codes import BACKDATE, LIFETIME, make_screen_code
from gate.unit_of_work import DbSession

HELD_CODES = 5
SHOW_SECONDS = 60
HORIZON = timedelta(seconds=HELD_CODES * SHOW_SECONDS)
"""How far ahead the page may show codes without the network."""
if (LIFETIME - BACKDATE).total_seconds() <= SHOW_SECONDS:
    raise RuntimeError("a held code must stay valid for its whole turn on the page")


@dataclass(frozen=True)
class HeldCode:
    """One code of the batch: its text, when the page shows it, when the gate stops taking it."""

    text: str
    show_from: datetime
    show_until: datetime
    valid_until: datetime


def held_codes(session: DbSession, record: IssuedPass, *, now: datetime) -> list[HeldCode]:
    """The next :data:`HELD_CODES` screen codes of ``record``, the first shown from ``now``.

    Raises :class:`gate.signing.operations.SigningKeyUnavailable` when no key can sign.
    """
    codes = []
    for index in range(HELD_CODES):
        start = now + timedelta(seconds=index * SHOW_SECONDS)
        fresh = make_screen_code(session, record, now=start)
        codes.append(
            HeldCode(fresh.text, start, start + timedelta(seconds=SHOW_SECONDS), fresh.valid_until)
        )
    return codes
