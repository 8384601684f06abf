"""The JSON between the gate server and its scanners, typed and versioned (wire format v1).

Every message is a frozen dataclass with ``to_json()`` (a JSON-ready dict) and a strict
``from_json(data)``: a missing field, a field the format does not define, a wrong type or an
out-of-range value raises :class:`WireFormatError` naming the field (``verdict.allowed``).
Nullable fields are present as ``null``, never left out. Each top-level message carries its
``format``; a change to a message's shape is a new format string, and the committed golden
vectors under ``tests/passes/vectors/wire_v1/`` never change.

=================================  =====================================  ===============
message                            ``format``                             where
=================================  =====================================  ===============
:class:`Scan`                      ``checkpoint.scan.v1``                 POST /scans
:class:`ScanAnswer` (a verdict)    ``checkpoint.verdict.v1``              its answer
:class:`Crossing` (offline item)   ``checkpoint.crossing.v1``             in a batch
:class:`Batch`                     ``checkpoint.batch.v1``                POST /crossings/batch
:class:`BatchResult`               ``checkpoint.batch-result.v1``         its answer
:class:`Bundle`                    ``checkpoint.bundle.v1``               GET /bundle
=================================  =====================================  ===============

Times are ISO 8601 UTC with ``Z`` (:func:`passes.format_utc`); ids are UUID strings; codes are
:class:`passes.Code` values or scanner codes (one word each; a reader keeps codes it does not
know, so adding a code is not a format change). ``temperature`` is integer tenths of a degree or
null; any other number or text is carried as read and decided as ``sensor_error``
(:func:`passes.decide`'s contract). The bundle's ``content_hash`` (its ETag) changes with its
content; its ``format`` changes only with its shape.

Optional fields added after a format's vectors were committed (:data:`SCAN_OPTIONAL`:
``clock_offset_ms``, the device's clock minus the server's in milliseconds, on scans and
offline crossings) may be left out: absent reads as null, and null is written by leaving the
field out, so every committed vector still reads and writes back unchanged. ``people`` (how
many persons crossed on the pass, 1 to :data:`passes.MAX_PEOPLE`) is optional the same way,
except that absent reads as 1 and 1 is written by leaving it out.

A scan's ``override`` object may carry the optional ``supervisor_credential``
(``{"username", "password"}``: the account of a supervisor or admin the gate verifies before
it lets the override count) and the optional ``supervisor_card`` (the text of a supervisor
card, :mod:`passes.supervisor_card`, verified by the gate at the scan time; in an offline
crossing too); absent reads as none, and none is written by leaving it out.

The bundle's optional fields (:data:`BUNDLE_OPTIONAL`, absent in bundles built before them,
written only when present): ``household_codes`` (household id -> the code printed on the card,
building-unit-room, e.g. ``3-2-401``: never a name, phone or ID number), ``passes`` (the
unexpired issued passes' facts, so that an offline scanner can check a rotating screen code
naming one), ``supervisor_cards`` (issued cards not revoked: card id, account id, valid
until), ``revoked_card_ids`` and ``duty`` (the shifts at the fetching scanner's gate from now
to a day ahead: start, end, the display names of the volunteers and supervisors on them),
``used_visitor_pass_ids`` (single-use visitor passes already consumed: opaque ids only, so an
offline gate refuses a second entry; revoked visitor passes join ``revoked_pass_ids``).

Messages without ``format`` are the unversioned shape scanners sent before this module
(call it v0); :func:`from_v0` reads a v0 scan, offline crossing or bundle as v1 the way the
gate read them then (absent optional fields are null, unknown fields are ignored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Literal

from passes.decision import MAX_PEOPLE, Override
from passes.keys import KeySet
from passes.pass_format import Pass
from passes.rules import RuleSet, RuleSetError, rules_from_dict
from passes.state import Direction, HouseholdState
from passes.supervisor_card import CardState
from passes.timefmt import format_utc
from passes.wire_fields import Display, Fields, WireFormatError, as_list, display_of

SCAN_FORMAT = "checkpoint.scan.v1"
SCAN_ANSWER_FORMAT = "checkpoint.verdict.v1"
CROSSING_FORMAT = "checkpoint.crossing.v1"
BATCH_FORMAT = "checkpoint.batch.v1"
BATCH_RESULT_FORMAT = "checkpoint.batch-result.v1"
BUNDLE_FORMAT = "checkpoint.bundle.v1"
FORMATS = (
    SCAN_FORMAT,
    SCAN_ANSWER_FORMAT,
    CROSSING_FORMAT,
    BATCH_FORMAT,
    BATCH_RESULT_FORMAT,
    BUNDLE_FORMAT,
)
"""Every format this module reads and writes."""

MAX_BATCH = 500
"""Most crossings in one batch."""
MAX_CLOCK_OFFSET_MS = 10 * 366 * 86_400_000
"""Largest ``clock_offset_ms`` either way (ten years): anything beyond is not an estimate."""
Temperature = int | float | str | None
ItemStatus = Literal["stored", "duplicate", "rejected"]

__all__ = [
    "BATCH_FORMAT",
    "BATCH_RESULT_FORMAT",
    "BUNDLE_FORMAT",
    "BUNDLE_OPTIONAL",
    "CROSSING_FORMAT",
    "FORMATS",
    "MAX_BATCH",
    "MAX_CLOCK_OFFSET_MS",
    "SCAN_ANSWER_FORMAT",
    "SCAN_FORMAT",
    "SCAN_OPTIONAL",
    "Batch",
    "BatchResult",
    "Bundle",
    "Claim",
    "Community",
    "Crossing",
    "Display",
    "DutySlot",
    "ItemError",
    "ItemResult",
    "ItemStatus",
    "Scan",
    "ScanAnswer",
    "SupervisorCredential",
    "Temperature",
    "Verdict",
    "WireFormatError",
    "batch_entries",
    "display_of",
    "from_v0",
]

_SCAN_KEYS = (
    "id",
    "pass",
    "direction",
    "temperature",
    "scanned_at",
    "operator",
    "override",
    "latency_ms",
)
SCAN_OPTIONAL = ("clock_offset_ms", "people")
"""Fields of a scan (and an offline crossing) that may be left out: see the module doc."""
OVERRIDE_OPTIONAL = ("supervisor_credential", "supervisor_card")
"""Fields of a scan's ``override`` that may be left out: see the module doc."""


@dataclass(frozen=True)
class SupervisorCredential:
    """A supervisor's account name and password, carried with an override for the gate to
    verify (never stored; the password is kept out of ``repr``)."""

    username: str
    password: str = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class Scan:
    """One presented pass, for an online verdict (``POST /scans``).

    ``id`` is the crossing's client UUID (replays of one id are one crossing); ``operator`` is
    at most 64 characters; ``latency_ms`` (0..3,600,000) is how long the previous answer took.
    ``clock_offset_ms`` (optional, see the module doc) is the scanner's estimate of its own
    clock minus the server's when it scanned (positive: the device runs ahead); ``scanned_at``
    is already corrected by it.
    """

    FORMAT: ClassVar[str] = SCAN_FORMAT

    id: str
    pass_text: str
    direction: Direction
    temperature: Temperature
    scanned_at: datetime
    operator: str | None = None
    override: Override | None = None
    latency_ms: int | None = None
    clock_offset_ms: int | None = None
    supervisor_credential: SupervisorCredential | None = None
    """Sent inside ``override`` (only with one): see the module doc."""
    people: int = 1
    """How many persons crossed on the pass (optional field, see the module doc)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        return {"format": self.FORMAT, **self._fields()}

    def _fields(self) -> dict[str, Any]:
        override = self.override
        credential = self.supervisor_credential
        return (
            {
                "id": self.id,
                "pass": self.pass_text,
                "direction": self.direction.value,
                "temperature": self.temperature,
                "scanned_at": format_utc(self.scanned_at),
                "operator": self.operator,
                "override": None
                if override is None
                else {"supervisor": override.supervisor, "reason": override.reason}
                | ({} if credential is None else {"supervisor_credential": credential.to_json()})
                | ({} if override.card is None else {"supervisor_card": override.card}),
                "latency_ms": self.latency_ms,
            }
            | ({} if self.clock_offset_ms is None else {"clock_offset_ms": self.clock_offset_ms})
            | ({} if self.people == 1 else {"people": self.people})
        )

    @classmethod
    def from_json(cls, data: object) -> Scan:
        """Parse; raises :class:`WireFormatError`."""
        return cls._read(Fields(data, "", cls.FORMAT, _SCAN_KEYS, SCAN_OPTIONAL))

    @classmethod
    def _read(cls, fields: Fields) -> Scan:
        return cls(
            id=fields.uuid("id"),
            pass_text=fields.text("pass", 512),
            direction=fields.direction("direction"),
            temperature=fields.temperature("temperature"),
            scanned_at=fields.time("scanned_at"),
            operator=fields.optional_text("operator", 64),
            override=_override(fields),
            latency_ms=fields.optional_whole("latency_ms", 0, 3_600_000),
            clock_offset_ms=fields.absent_or_whole(
                "clock_offset_ms", -MAX_CLOCK_OFFSET_MS, MAX_CLOCK_OFFSET_MS
            ),
            supervisor_credential=_credential(fields),
            people=fields.absent_or_whole("people", 1, MAX_PEOPLE) or 1,
        )


def _override(fields: Fields) -> Override | None:
    if fields.is_null("override"):
        return None
    inner = fields.nested("override", ("supervisor", "reason"), OVERRIDE_OPTIONAL)
    supervisor, reason = inner.text("supervisor", 64), inner.text("reason", 500)
    card = inner.text("supervisor_card", 200) if inner.has("supervisor_card") else None
    try:
        return Override(supervisor=supervisor, reason=reason, card=card)
    except ValueError as exc:
        raise WireFormatError("override", str(exc)) from None


def _credential(fields: Fields) -> SupervisorCredential | None:
    """The override's ``supervisor_credential`` (read after :func:`_override` checked it)."""
    if fields.is_null("override"):
        return None
    inner = fields.nested("override", ("supervisor", "reason"), OVERRIDE_OPTIONAL)
    if not inner.has("supervisor_credential"):
        return None
    credential = inner.nested("supervisor_credential", ("username", "password"))
    return SupervisorCredential(credential.text("username", 64), credential.text("password", 256))


@dataclass(frozen=True)
class Verdict:
    """The server's verdict as a scanner shows it (inside :class:`ScanAnswer`).

    ``display`` picks the screen (:func:`display_of`); ``reason_zh``/``reason_en`` are the
    one-line reasons; ``next_exit_at`` is the next allowed outing after a quota refusal.
    """

    allowed: bool
    display: Display
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    reason_zh: str
    reason_en: str
    next_exit_at: datetime | None
    rule_version: int

    KEYS: ClassVar[tuple[str, ...]] = (
        "allowed",
        "display",
        "code",
        "codes",
        "notes",
        "reason_zh",
        "reason_en",
        "next_exit_at",
        "rule_version",
    )

    def to_json(self) -> dict[str, Any]:
        """The JSON object (no ``format``: it travels inside a scan answer)."""
        return {
            "allowed": self.allowed,
            "display": self.display,
            "code": self.code,
            "codes": list(self.codes),
            "notes": list(self.notes),
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
            "next_exit_at": format_utc(self.next_exit_at),
            "rule_version": self.rule_version,
        }

    @classmethod
    def read(cls, fields: Fields) -> Verdict:
        """Parse the object ``fields`` holds (see :meth:`Fields.nested`)."""
        return cls(
            allowed=fields.flag("allowed"),
            display=fields.display("display"),
            code=fields.optional_code("code"),
            codes=fields.codes("codes"),
            notes=fields.codes("notes"),
            reason_zh=fields.any_text("reason_zh", 1000),
            reason_en=fields.any_text("reason_en", 1000),
            next_exit_at=fields.optional_time("next_exit_at"),
            rule_version=fields.whole("rule_version", 0, 2**31 - 1),
        )


@dataclass(frozen=True)
class ScanAnswer:
    """The answer to a :class:`Scan`: the stored crossing and its verdict (same for replays).

    ``household_label`` is what the office shows (masked), ``next_exit_at`` repeats the
    verdict's for older readers.
    """

    FORMAT: ClassVar[str] = SCAN_ANSWER_FORMAT

    id: str
    crossing_id: int | None
    replay: bool
    verdict: Verdict
    household_label: str | None
    next_exit_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        return {
            "format": self.FORMAT,
            "id": self.id,
            "crossing_id": self.crossing_id,
            "replay": self.replay,
            "verdict": self.verdict.to_json(),
            "household_label": self.household_label,
            "next_exit_at": format_utc(self.next_exit_at),
        }

    @classmethod
    def from_json(cls, data: object) -> ScanAnswer:
        """Parse; raises :class:`WireFormatError`."""
        keys = ("id", "crossing_id", "replay", "verdict", "household_label", "next_exit_at")
        fields = Fields(data, "", cls.FORMAT, keys)
        return cls(
            id=fields.uuid("id"),
            crossing_id=fields.optional_whole("crossing_id", 0, 2**63 - 1),
            replay=fields.flag("replay"),
            verdict=Verdict.read(fields.nested("verdict", Verdict.KEYS)),
            household_label=fields.optional_text("household_label", 200),
            next_exit_at=fields.optional_time("next_exit_at"),
        )


@dataclass(frozen=True)
class Claim:
    """A scanner's own verdict on a crossing it decided offline (inside :class:`Crossing`)."""

    allowed: bool
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    rule_version: int

    KEYS: ClassVar[tuple[str, ...]] = ("allowed", "code", "codes", "notes", "rule_version")

    def to_json(self) -> dict[str, Any]:
        """The JSON object (no ``format``: it travels inside a crossing)."""
        return {
            "allowed": self.allowed,
            "code": self.code,
            "codes": list(self.codes),
            "notes": list(self.notes),
            "rule_version": self.rule_version,
        }

    @classmethod
    def from_json(cls, data: object, path: str = "verdict") -> Claim:
        """Parse the claim object alone (its fields named under ``path``)."""
        return cls.read(Fields(data, path, None, cls.KEYS))

    @classmethod
    def read(cls, fields: Fields) -> Claim:
        """Parse the object ``fields`` holds."""
        return cls(
            allowed=fields.flag("allowed"),
            code=fields.optional_code("code"),
            codes=fields.codes("codes"),
            notes=fields.codes("notes"),
            rule_version=fields.whole("rule_version", 0, 2**31 - 1),
        )


@dataclass(frozen=True)
class Crossing:
    """One crossing decided offline, uploaded in a :class:`Batch`: the scan and the claim."""

    FORMAT: ClassVar[str] = CROSSING_FORMAT

    scan: Scan
    verdict: Claim

    def to_json(self) -> dict[str, Any]:
        """The JSON object: the scan's fields, ``verdict`` and this ``format``."""
        return {"format": self.FORMAT, **self.scan._fields(), "verdict": self.verdict.to_json()}

    @classmethod
    def from_json(cls, data: object) -> Crossing:
        """Parse; raises :class:`WireFormatError`."""
        fields = Fields(data, "", cls.FORMAT, (*_SCAN_KEYS, "verdict"), SCAN_OPTIONAL)
        return cls(
            scan=Scan._read(fields), verdict=Claim.read(fields.nested("verdict", Claim.KEYS))
        )


@dataclass(frozen=True)
class Batch:
    """Offline crossings in the order the scanner recorded them (at most :data:`MAX_BATCH`)."""

    FORMAT: ClassVar[str] = BATCH_FORMAT

    crossings: tuple[Crossing, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        return {"format": self.FORMAT, "crossings": [c.to_json() for c in self.crossings]}

    @classmethod
    def from_json(cls, data: object) -> Batch:
        """Parse every item; raises :class:`WireFormatError` (``crossings[3].id``)."""
        items = _entries(data, v0_ok=False)
        crossings = []
        for index, item in enumerate(items):
            try:
                crossings.append(Crossing.from_json(item))
            except WireFormatError as exc:
                raise WireFormatError(f"crossings[{index}].{exc.field}", exc.problem) from None
        return cls(tuple(crossings))


def batch_entries(data: object) -> list[object]:
    """A batch's items, unread: each is judged on its own (:meth:`Crossing.from_json`), so one
    bad item never refuses its batch. Checks the envelope and the :data:`MAX_BATCH` limit.
    A v0 batch (no ``format``) is accepted: its envelope is the same."""
    return _entries(data, v0_ok=True)


def _entries(data: object, *, v0_ok: bool) -> list[object]:
    if v0_ok and isinstance(data, Mapping) and "format" not in data:
        data = {"format": BATCH_FORMAT, "crossings": data.get("crossings")}  # extras ignored
    fields = Fields(data, "", BATCH_FORMAT, ("crossings",))
    items = as_list(fields.raw("crossings"), "crossings")
    if len(items) > MAX_BATCH:
        raise WireFormatError("crossings", f"at most {MAX_BATCH} crossings per batch")
    return items


@dataclass(frozen=True)
class ItemError:
    """Why an uploaded item was rejected: a stable ``code`` and a message for the log."""

    code: str
    message: str


@dataclass(frozen=True)
class ItemResult:
    """The server's answer for one uploaded item.

    ``stored`` now, ``duplicate`` (stored before: acknowledged all the same) or ``rejected``
    (unreadable; kept on the server, with ``error``). ``id`` is null for an item without a
    usable UUID. ``conflict`` flags a crossing the server would have refused (``quota``...).
    """

    id: str | None
    status: ItemStatus
    crossing_id: int | None
    conflict: bool
    conflict_code: str | None
    error: ItemError | None

    KEYS: ClassVar[tuple[str, ...]] = (
        "id",
        "status",
        "crossing_id",
        "conflict",
        "conflict_code",
        "error",
    )

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        error = self.error
        return {
            "id": self.id,
            "status": self.status,
            "crossing_id": self.crossing_id,
            "conflict": self.conflict,
            "conflict_code": self.conflict_code,
            "error": None if error is None else {"code": error.code, "message": error.message},
        }

    @classmethod
    def read(cls, fields: Fields) -> ItemResult:
        """Parse the object ``fields`` holds."""
        error = None
        if not fields.is_null("error"):
            inner = fields.nested("error", ("code", "message"))
            error = ItemError(inner.any_text("code", 64), inner.any_text("message", 1000))
        return cls(
            id=None if fields.is_null("id") else fields.uuid("id"),
            status=fields.status("status"),
            crossing_id=fields.optional_whole("crossing_id", 0, 2**63 - 1),
            conflict=fields.flag("conflict"),
            conflict_code=fields.optional_code("conflict_code"),
            error=error,
        )


@dataclass(frozen=True)
class BatchResult:
    """The answer to a :class:`Batch`: one :class:`ItemResult` per item, in the same order."""

    FORMAT: ClassVar[str] = BATCH_RESULT_FORMAT

    results: tuple[ItemResult, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        return {"format": self.FORMAT, "results": [r.to_json() for r in self.results]}

    @classmethod
    def from_json(cls, data: object) -> BatchResult:
        """Parse; raises :class:`WireFormatError` (``results[2].status``)."""
        fields = Fields(data, "", cls.FORMAT, ("results",))
        return cls(
            tuple(ItemResult.read(item) for item in fields.nested_list("results", ItemResult.KEYS))
        )


@dataclass(frozen=True)
class Community:
    """The bundle's community: its id, name and time zone (IANA name)."""

    id: int
    name: str
    timezone: str


BUNDLE_OPTIONAL = (
    "household_codes",
    "passes",
    "supervisor_cards",
    "revoked_card_ids",
    "duty",
    "used_visitor_pass_ids",
)
"""Fields of a bundle that may be left out (see the module doc): absent reads as None."""
MAX_HOUSEHOLD_CODE = 32
MAX_DUTY_SLOTS = 64
MAX_DUTY_NAMES = 16
MAX_DUTY_NAME = 64


@dataclass(frozen=True)
class DutySlot:
    """A duty shift at the scanner's gate (the bundle's optional ``duty``): when it starts and
    ends, and the display names of the people on it (volunteers and supervisors: the office's
    own staff, never a resident). The scanner shows the slot its clock is in."""

    starts_at: datetime
    ends_at: datetime
    names: tuple[str, ...]


@dataclass(frozen=True)
class Bundle:
    """Everything a scanner needs to decide offline, and nothing personal.

    Public keys with their status, revoked pass ids, household states (opaque ids, generations,
    status, people out, exits in the window), the rules, and ``generated_at`` (the server's
    time); and, when present (:data:`BUNDLE_OPTIONAL`), the household codes, the unexpired
    passes, the supervisor cards and the revoked card ids. ``content_hash`` is a hash of
    everything but ``generated_at`` (the ETag): build bundles with :meth:`build`. Readers do
    not recompute it.
    """

    FORMAT: ClassVar[str] = BUNDLE_FORMAT

    content_hash: str
    generated_at: datetime
    community: Community
    rules: RuleSet
    keys: KeySet
    revoked_pass_ids: tuple[bytes, ...]
    households: tuple[HouseholdState, ...]
    household_codes: Mapping[int, str] | None = None
    passes: tuple[Pass, ...] | None = None
    supervisor_cards: tuple[CardState, ...] | None = None
    revoked_card_ids: tuple[bytes, ...] | None = None
    duty: tuple[DutySlot, ...] | None = None
    used_visitor_pass_ids: tuple[bytes, ...] | None = None

    KEYS: ClassVar[tuple[str, ...]] = (
        "content_hash",
        "generated_at",
        "community",
        "rules",
        "keys",
        "revoked_pass_ids",
        "households",
    )

    @classmethod
    def build(
        cls,
        *,
        generated_at: datetime,
        community: Community,
        rules: RuleSet,
        keys: KeySet,
        revoked_pass_ids: tuple[bytes, ...],
        households: tuple[HouseholdState, ...],
        household_codes: Mapping[int, str] | None = None,
        passes: tuple[Pass, ...] | None = None,
        supervisor_cards: tuple[CardState, ...] | None = None,
        revoked_card_ids: tuple[bytes, ...] | None = None,
        duty: tuple[DutySlot, ...] | None = None,
        used_visitor_pass_ids: tuple[bytes, ...] | None = None,
    ) -> Bundle:
        """A bundle with its content hash (hex, 32 characters) computed."""
        draft = cls(
            "",
            generated_at,
            community,
            rules,
            keys,
            revoked_pass_ids,
            households,
            household_codes,
            passes,
            supervisor_cards,
            revoked_card_ids,
            duty,
            used_visitor_pass_ids,
        )
        content = draft.to_json()
        del content["content_hash"], content["generated_at"]
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return replace(draft, content_hash=hashlib.sha256(canonical).hexdigest()[:32])

    def to_json(self) -> dict[str, Any]:
        """The JSON object (optional fields only when present)."""
        community = self.community
        data: dict[str, Any] = {
            "format": self.FORMAT,
            "content_hash": self.content_hash,
            "generated_at": format_utc(self.generated_at),
            "community": {
                "id": community.id,
                "name": community.name,
                "timezone": community.timezone,
            },
            "rules": self.rules.to_dict(),
            "keys": self.keys.to_list(),
            "revoked_pass_ids": [pass_id.hex() for pass_id in self.revoked_pass_ids],
            "households": [state.to_dict() for state in self.households],
        }
        if self.household_codes is not None:
            codes = self.household_codes
            data["household_codes"] = {str(key): codes[key] for key in sorted(codes)}
        if self.passes is not None:
            data["passes"] = [_pass_json(fields) for fields in self.passes]
        if self.supervisor_cards is not None:
            data["supervisor_cards"] = [
                {
                    "card_id": card.card_id.hex(),
                    "account_id": card.account_id,
                    "valid_until": format_utc(card.valid_until),
                }
                for card in self.supervisor_cards
            ]
        if self.revoked_card_ids is not None:
            data["revoked_card_ids"] = [card_id.hex() for card_id in self.revoked_card_ids]
        if self.duty is not None:
            data["duty"] = [
                {
                    "starts_at": format_utc(slot.starts_at),
                    "ends_at": format_utc(slot.ends_at),
                    "names": list(slot.names),
                }
                for slot in self.duty
            ]
        if self.used_visitor_pass_ids is not None:
            data["used_visitor_pass_ids"] = [each.hex() for each in self.used_visitor_pass_ids]
        return data

    @classmethod
    def from_json(cls, data: object) -> Bundle:
        """Parse; raises :class:`WireFormatError` (a bad rule, key or state names its list)."""
        fields = Fields(data, "", cls.FORMAT, cls.KEYS, BUNDLE_OPTIONAL)
        community = fields.nested("community", ("id", "name", "timezone"))
        community_id = community.whole("id", 1, 2**32 - 1)
        return cls(
            content_hash=fields.text("content_hash", 64),
            generated_at=fields.time("generated_at"),
            community=Community(
                id=community_id,
                name=community.any_text("name", 200),
                timezone=community.text("timezone", 64),
            ),
            rules=_rules(fields.raw("rules")),
            keys=_keys(fields.raw("keys")),
            revoked_pass_ids=_pass_ids(fields.raw("revoked_pass_ids")),
            households=_households(fields.raw("households")),
            household_codes=_household_codes(fields) if fields.has("household_codes") else None,
            passes=_passes(fields, community_id) if fields.has("passes") else None,
            supervisor_cards=_cards(fields) if fields.has("supervisor_cards") else None,
            revoked_card_ids=_ids(fields.raw("revoked_card_ids"), "revoked_card_ids")
            if fields.has("revoked_card_ids")
            else None,
            duty=_duty(fields) if fields.has("duty") else None,
            used_visitor_pass_ids=_ids(fields.raw("used_visitor_pass_ids"), "used_visitor_pass_ids")
            if fields.has("used_visitor_pass_ids")
            else None,
        )


def _pass_json(fields: Pass) -> dict[str, Any]:
    return {
        "pass_id": fields.pass_id.hex(),
        "household_id": fields.household_id,
        "key_id": fields.key_id,
        "generation": fields.generation,
        "issued_at": format_utc(fields.issued_at),
        "valid_until": format_utc(fields.valid_until),
    }


_PASS_KEYS = ("pass_id", "household_id", "key_id", "generation", "issued_at", "valid_until")
_CARD_KEYS = ("card_id", "account_id", "valid_until")


def _household_codes(fields: Fields) -> dict[int, str]:
    value = fields.raw("household_codes")
    if not isinstance(value, Mapping):
        raise WireFormatError("household_codes", "must be a JSON object")
    codes: dict[int, str] = {}
    for key in value:
        name = f"household_codes.{str(key)[:20]}"
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and int(key) < 2**32):
            raise WireFormatError(name, "must be a household id")
        code = value[key]
        if not isinstance(code, str) or not code or len(code) > MAX_HOUSEHOLD_CODE:
            raise WireFormatError(name, f"must be text of 1 to {MAX_HOUSEHOLD_CODE} characters")
        codes[int(key)] = Fields({"code": code}, name, None, ("code",)).text("code", 32)
    return codes


def _passes(fields: Fields, community_id: int) -> tuple[Pass, ...]:
    passes = []
    for index, item in enumerate(fields.nested_list("passes", _PASS_KEYS)):
        pass_id = _id(item.raw("pass_id"), f"passes[{index}].pass_id")
        key_id, generation = item.whole("key_id", 0, 0xFFFF), item.whole("generation", 0, 0xFFFF)
        household_id = item.whole("household_id", 0, 2**32 - 1)
        issued_at, valid_until = item.time("issued_at"), item.time("valid_until")
        try:
            passes.append(
                Pass(
                    key_id, pass_id, household_id, community_id, generation, issued_at, valid_until
                )
            )
        except ValueError as exc:
            raise WireFormatError(f"passes[{index}]", f"not a pass ({exc})") from None
    return tuple(passes)


def _cards(fields: Fields) -> tuple[CardState, ...]:
    return tuple(
        CardState(
            card_id=_id(item.raw("card_id"), f"supervisor_cards[{index}].card_id"),
            account_id=item.whole("account_id", 1, 2**32 - 1),
            valid_until=item.time("valid_until"),
        )
        for index, item in enumerate(fields.nested_list("supervisor_cards", _CARD_KEYS))
    )


def _duty(fields: Fields) -> tuple[DutySlot, ...]:
    items = fields.nested_list("duty", ("starts_at", "ends_at", "names"))
    if len(items) > MAX_DUTY_SLOTS:
        raise WireFormatError("duty", f"at most {MAX_DUTY_SLOTS} shifts")
    slots = []
    for index, item in enumerate(items):
        name = f"duty[{index}].names"
        names = as_list(item.raw("names"), name)
        if len(names) > MAX_DUTY_NAMES or not all(
            isinstance(n, str) and 0 < len(n) <= MAX_DUTY_NAME for n in names
        ):
            raise WireFormatError(name, f"must be at most {MAX_DUTY_NAMES} names of text")
        slot = DutySlot(item.time("starts_at"), item.time("ends_at"), tuple(names))
        if slot.ends_at <= slot.starts_at:
            raise WireFormatError(f"duty[{index}].ends_at", "must be after starts_at")
        slots.append(slot)
    return tuple(slots)


def _id(value: object, name: str) -> bytes:
    """Twelve bytes as 24 hex digits (a pass id, a card id)."""
    if isinstance(value, str) and len(value) == 24:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise WireFormatError(name, "must be 24 hex digits")


def _ids(value: object, name: str) -> tuple[bytes, ...]:
    return tuple(_id(item, name) for item in as_list(value, name))


def _rules(value: object) -> RuleSet:
    if not isinstance(value, dict):
        raise WireFormatError("rules", "must be a JSON object")
    try:
        return rules_from_dict(value)
    except (RuleSetError, ValueError, TypeError, KeyError) as exc:
        raise WireFormatError("rules", f"not a rule set ({exc})") from None


def _keys(value: object) -> KeySet:
    try:
        return KeySet.from_list(as_list(value, "keys"))
    except WireFormatError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise WireFormatError("keys", f"not a key list ({exc})") from None


def _pass_ids(value: object) -> tuple[bytes, ...]:
    items = as_list(value, "revoked_pass_ids")
    try:
        return tuple(bytes.fromhex(item) for item in items)
    except (ValueError, TypeError):
        raise WireFormatError("revoked_pass_ids", "must be a list of hex pass ids") from None


def _households(value: object) -> tuple[HouseholdState, ...]:
    try:
        return tuple(HouseholdState.from_dict(item) for item in as_list(value, "households"))
    except WireFormatError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise WireFormatError("households", f"not a household state list ({exc})") from None


_V0_OPTIONAL = {"temperature": None, "operator": None, "override": None, "latency_ms": None}
_V0_CLAIM_OPTIONAL: dict[str, Any] = {"code": None, "codes": [], "notes": []}


def from_v0(data: object, message: type[Scan] | type[Crossing] | type[Bundle]) -> object:
    """``data`` as a v1 ``message`` JSON object when it is a v0 one (it has no ``format``),
    else ``data`` unchanged; parse the result with ``message.from_json``.

    v0 is what scanners sent before this module: the same fields, some optional ones left
    out, extra fields ignored; a v0 bundle named its content hash ``version``. A ``people``
    field is kept (the phone gate's online scans are v0 bodies and carry the count).
    """
    if not isinstance(data, Mapping) or "format" in data:
        return data
    if message is Bundle:
        known = {key: data[key] for key in Bundle.KEYS if key in data}
        if "version" in data and "content_hash" not in known:
            known["content_hash"] = data["version"]
        return {"format": BUNDLE_FORMAT, **known}
    upgraded = {"format": message.FORMAT, **_V0_OPTIONAL}
    upgraded |= {key: data[key] for key in _SCAN_KEYS if key in data}
    if "people" in data:
        upgraded["people"] = data["people"]
    if message is Crossing and "verdict" in data:
        claim = data["verdict"]
        if isinstance(claim, Mapping):
            claim = _V0_CLAIM_OPTIONAL | {key: claim[key] for key in Claim.KEYS if key in claim}
        upgraded["verdict"] = claim
    return upgraded
