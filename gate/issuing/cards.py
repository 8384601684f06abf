"""Build printable :class:`~gate.issuing.printing.Card` values from household and pass rows.

A card shows the household code, the address (building, unit, room; never a name), the
community's name, the validity as local dates, the outing rule of the rules in force and the
manual code. Dates are in the community's zone. The last date printed is the last local day
the pass is valid *all day* (``valid_until`` minus one day), so a resident is never told a
day that the gate will refuse part of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import current_rules
from gate.community.models import Community
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import manual_code, pass_fields, signing_key_of
from gate.issuing.printing import Card
from passes import SigningKey

_QUERY_CHUNK = 500


def address_line(household: Household) -> str:
    """``"3号楼 2单元 401室"``: building name, unit and room, whichever are known."""
    parts = [household.building.name]
    if household.unit:
        parts.append(household.unit if household.unit.endswith("单元") else f"{household.unit}单元")
    if household.room:
        parts.append(household.room if household.room.endswith("室") else f"{household.room}室")
    return " ".join(parts)


def local_validity(record: IssuedPass, timezone: str) -> tuple[dt.date, dt.date]:
    """First and last local dates to print for ``record`` (see the module docstring)."""
    return validity_dates(record.issued_at, record.valid_until, timezone)


def validity_dates(
    issued_at: dt.datetime, valid_until: dt.datetime, timezone: str
) -> tuple[dt.date, dt.date]:
    """The first local date and the last local date valid all day: what the card prints, and
    what every page shown to a resident says, so the card and the phone never disagree."""
    zone = ZoneInfo(timezone)
    first = issued_at.astimezone(zone).date()
    last = (valid_until - dt.timedelta(days=1)).astimezone(zone).date()
    return first, max(first, last)


def usable_passes(
    session: Session, households: Sequence[Household], now: dt.datetime
) -> dict[int, IssuedPass]:
    """The newest active, unexpired pass of the current generation, by household id.

    Households without one are absent from the result.
    """
    generation = {h.id: h.generation for h in households}
    found: dict[int, IssuedPass] = {}
    ids = list(generation)
    for start in range(0, len(ids), _QUERY_CHUNK):
        rows = session.scalars(
            select(IssuedPass)
            .where(
                IssuedPass.household_id.in_(ids[start : start + _QUERY_CHUNK]),
                IssuedPass.status == PassStatus.ACTIVE,
                IssuedPass.valid_until > now,
            )
            .order_by(IssuedPass.id)
        )
        for record in rows:
            if record.generation == generation[record.household_id]:
                found[record.household_id] = record  # ordered by id: the newest wins
    return found


class CardBuilder:
    """Makes cards for one community; reads its rules once and each signing key once.

    Once :meth:`load_keys` has read the keys of the passes to print (and the households'
    buildings are loaded), making their cards touches the database no more: a long print
    run can render after the entry point ended its transaction.
    """

    def __init__(self, session: Session, community: Community) -> None:
        self.session = session
        self.community = community
        self.rule_line = current_rules(session, community).describe_quota()
        self._keys: dict[int, SigningKey] = {}

    def load_keys(self, records: Iterable[IssuedPass]) -> None:
        """Read the private keys that signed ``records`` now (raises :class:`IssuingError`)."""
        for record in records:
            self._key(record)

    def _key(self, record: IssuedPass) -> SigningKey:
        key = self._keys.get(record.key_id)
        if key is None:
            key = self._keys[record.key_id] = signing_key_of(self.session, record)
        return key

    def card(
        self, household: Household, record: IssuedPass, *, resident_link_url: str | None = None
    ) -> Card:
        """The card of ``record`` (a pass of ``household``); re-signs the pass text. With
        ``resident_link_url`` the card carries a small second QR labelled 手机出示 that opens
        the household's phone pass (only right after the link was issued: just its hash is
        kept).

        Raises :class:`gate.issuing.operations.IssuingError` when the key that signed it
        cannot sign here.
        """
        first, last = local_validity(record, self.community.timezone)
        return Card(
            pass_text=self._key(record).sign(pass_fields(record)),
            household_code=household.code,
            address_line=address_line(household),
            community_name=self.community.name,
            valid_from=first,
            valid_until=last,
            rule_line=self.rule_line,
            manual_code=record.manual_code or manual_code(record.pass_id),
            resident_link_url=resident_link_url,
        )

    def cards(
        self, households: Iterable[Household], passes: dict[int, IssuedPass]
    ) -> Iterator[Card]:
        """Cards for those of ``households`` that have a pass in ``passes``, in order, lazily."""
        for household in households:
            record = passes.get(household.id)
            if record is not None:
                yield self.card(household, record)
