"""The offline bundle: everything the scanner needs to decide alone, and its age.

Parsed from ``GET /api/v1/bundle`` (a :class:`passes.wire.Bundle`, ``checkpoint.bundle.v1``;
a bundle cached before that format is read too). Its optional parts, empty when a server
does not send them: the household codes (the offline verdict shows ``3-2-401``, what the
card prints), the unexpired passes (a rotating screen code names one: checked offline), and
the supervisor cards with the revoked card ids (an offline override or unlock), and the duty
shifts at the device's gate (the status strip shows who is on duty, by the device's clock).
``content_hash`` is the server's hash of the content (its ETag), not a format version.
``generated_at`` is the server's time when it built the bundle; ``fetched_at`` is this
device's (offset-corrected) time when the fetch started; age is measured from ``fetched_at``.

Household state merge (see :meth:`Bundle.household`): the office-set fields (generation,
status, quarantine) always come from the bundle; who is out and the counted exits come from
the journal when this device holds a crossing of that household the bundle cannot reflect
(not yet uploaded, or acknowledged after the bundle was generated). So an offline decision
respects quota and already-out for crossings made since the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from passes import (
    CardState,
    HouseholdState,
    KeySet,
    Pass,
    RuleSet,
    WireFormatError,
    format_utc,
    parse_utc,
    wire,
)


class BundleError(ValueError):
    """The bundle JSON has a bad shape; the cached bundle stays in use."""


class LocalStates(Protocol):
    """Where the device's own household states live (the journal)."""

    def local_household(self, household_id: int, *, since: datetime) -> HouseholdState | None: ...


@dataclass(frozen=True)
class Bundle:
    """An immutable bundle value. ``raw`` is the JSON it came from (stored as is)."""

    content_hash: str
    community_id: int
    community_name: str
    timezone: str
    rules: RuleSet
    keys: KeySet
    revoked_pass_ids: frozenset[bytes]
    households: Mapping[int, HouseholdState]
    generated_at: datetime
    fetched_at: datetime
    etag: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    household_codes: Mapping[int, str] = field(default_factory=dict)
    """Household id -> the code printed on its card (``3-2-401``), when the server sent them."""
    passes: Mapping[bytes, Pass] = field(default_factory=dict, repr=False)
    """Unexpired passes (any status) by pass id: what a screen code names, checked offline."""
    supervisor_cards: Mapping[bytes, CardState] = field(default_factory=dict)
    """Issued supervisor cards that count, by card id."""
    revoked_card_ids: frozenset[bytes] = frozenset()
    duty: tuple[wire.DutySlot, ...] = ()
    """The duty shifts at this device's gate (who is on duty), when the server sent them."""
    used_visitor_pass_ids: frozenset[bytes] = frozenset()
    """Single-use visitor passes the server knows consumed (a second entry is refused)."""

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, fetched_at: datetime, etag: str | None = None
    ) -> Bundle:
        """Parse the bundle JSON; raises BundleError naming what is wrong."""
        try:
            bundle = wire.Bundle.from_json(wire.from_v0(data, wire.Bundle))
        except WireFormatError as exc:
            raise BundleError(f"bad bundle: {exc}") from None
        return cls(
            content_hash=bundle.content_hash,
            community_id=bundle.community.id,
            community_name=bundle.community.name,
            timezone=bundle.community.timezone,
            rules=bundle.rules,
            keys=bundle.keys,
            revoked_pass_ids=frozenset(bundle.revoked_pass_ids),
            households={state.household_id: state for state in bundle.households},
            generated_at=bundle.generated_at,
            fetched_at=fetched_at,
            etag=etag,
            raw=dict(data),
            household_codes=dict(bundle.household_codes or {}),
            passes={fields.pass_id: fields for fields in bundle.passes or ()},
            supervisor_cards={card.card_id: card for card in bundle.supervisor_cards or ()},
            revoked_card_ids=frozenset(bundle.revoked_card_ids or ()),
            duty=bundle.duty or (),
            used_visitor_pass_ids=frozenset(bundle.used_visitor_pass_ids or ()),
        )

    def age(self, now: datetime) -> timedelta:
        """How long ago the bundle was fetched (never negative)."""
        return max(now - self.fetched_at, timedelta(0))

    def household(self, household_id: int, local: LocalStates | None) -> HouseholdState | None:
        """The household's state for an offline decision (None: not registered); see module doc."""
        base = self.households.get(household_id)
        if base is None:
            return None
        mine = (
            None if local is None else local.local_household(household_id, since=self.generated_at)
        )
        return base if mine is None else merge_household(base, mine)


def merge_household(bundle_state: HouseholdState, local_state: HouseholdState) -> HouseholdState:
    """Office-set fields from the bundle, out/exits from the device's own newer state."""
    return replace(bundle_state, out_since=local_state.out_since, exits=local_state.exits)


class BundleStore(Protocol):
    """Where the bundle is cached (the journal's meta table)."""

    def get_meta(self, key: str, default: object = None) -> Any: ...


BUNDLE_KEY = "bundle"
"""Meta key of ``{"data": <bundle JSON>, "etag": str|null, "fetched_at": ISO}``."""


def load_bundle(store: BundleStore) -> Bundle | None:
    """The cached bundle, or None if none was ever fetched (or it no longer parses)."""
    record = store.get_meta(BUNDLE_KEY)
    if not isinstance(record, dict):
        return None
    fetched_at = parse_utc(record.get("fetched_at"))
    if fetched_at is None:
        return None
    try:
        return Bundle.from_dict(record["data"], fetched_at=fetched_at, etag=record.get("etag"))
    except (BundleError, KeyError):
        return None


class BundleCache:
    """The current bundle for the decision thread, re-read only when the stored one changed."""

    def __init__(self, store: BundleStore) -> None:
        self._store = store
        self._stamp: object = None
        self._bundle: Bundle | None = None

    def current(self) -> Bundle | None:
        """The newest stored bundle (cheap when unchanged: one small query)."""
        stamp = self._store.get_meta(BUNDLE_KEY + ".stamp")
        if stamp != self._stamp or (self._bundle is None and stamp is not None):
            self._bundle = load_bundle(self._store)
            self._stamp = stamp
        return self._bundle


class BundleWriter(BundleStore, Protocol):
    """A store that can also write (the journal)."""

    def set_meta(self, **values: object) -> None: ...


def save_bundle(
    store: BundleWriter, data: Mapping[str, Any], *, etag: str | None, fetched_at: datetime
) -> Bundle:
    """Validate and store a fetched bundle (also after a 304, to renew ``fetched_at``).

    Raises BundleError and stores nothing if ``data`` does not parse.
    """
    bundle = Bundle.from_dict(data, fetched_at=fetched_at, etag=etag)
    record = {"data": dict(data), "etag": etag, "fetched_at": format_utc(fetched_at)}
    store.set_meta(**{BUNDLE_KEY: record, BUNDLE_KEY + ".stamp": [etag, record["fetched_at"]]})
    return bundle
