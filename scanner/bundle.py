"""The offline bundle: everything the scanner needs to decide alone, and its age.

Parsed from ``GET /api/v1/bundle`` (shape in :meth:`Bundle.from_dict`). ``generated_at`` is
the server's time when it built the bundle; ``fetched_at`` is this device's (offset-corrected)
time when the fetch started; age is measured from ``fetched_at``.

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
    HouseholdState,
    KeySet,
    RuleSet,
    RuleSetError,
    format_utc,
    parse_utc,
    rules_from_dict,
)


class BundleError(ValueError):
    """The bundle JSON has a bad shape; the cached bundle stays in use."""


class LocalStates(Protocol):
    """Where the device's own household states live (the journal)."""

    def local_household(self, household_id: int, *, since: datetime) -> HouseholdState | None: ...


@dataclass(frozen=True)
class Bundle:
    """An immutable bundle value. ``raw`` is the JSON it came from (stored as is)."""

    version: str
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

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, fetched_at: datetime, etag: str | None = None
    ) -> Bundle:
        """Parse the bundle JSON; raises BundleError naming what is wrong."""
        try:
            community = data["community"]
            generated_at = parse_utc(data["generated_at"])
            if generated_at is None:
                raise BundleError("generated_at is null")
            households = [HouseholdState.from_dict(item) for item in data["households"]]
            return cls(
                version=str(data["version"]),
                community_id=int(community["id"]),
                community_name=str(community.get("name", "")),
                timezone=str(community.get("timezone") or "Asia/Shanghai"),
                rules=rules_from_dict(data["rules"]),
                keys=KeySet.from_list(data["keys"]),
                revoked_pass_ids=frozenset(bytes.fromhex(h) for h in data["revoked_pass_ids"]),
                households={state.household_id: state for state in households},
                generated_at=generated_at,
                fetched_at=fetched_at,
                etag=etag,
                raw=dict(data),
            )
        except BundleError:
            raise
        except RuleSetError as exc:
            raise BundleError(f"bad rules in bundle: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"bad bundle: {type(exc).__name__}: {exc}") from None

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
