"""The decider corpus under construction: cases decided by the Python code, as JSON.

Each ``add_*`` method runs the Python decision on its inputs right away and stores the inputs
and the expected answer, so a case can never record anything but what ``passes`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from corpus_keys import COMMUNITY, KEYSETS
from corpus_render import decision_json, temperature_json, verdict_json

from passes import (
    Direction,
    HouseholdState,
    Override,
    Pass,
    RuleSet,
    decide,
    format_utc,
    screen_pass_check,
    verify_pass,
    verify_screen_code,
)
from passes.verification import PassRejected
from scanner.bundle import Bundle as ScannerBundle
from scanner.deciding import Decider, ScanRequest, decide_offline


def pass_json(fields: Pass) -> dict[str, Any]:
    """A stored pass's facts (the form of a bundle's ``passes`` entries, with its community)."""
    return {
        "pass_id": fields.pass_id.hex(),
        "household_id": fields.household_id,
        "community_id": fields.community_id,
        "key_id": fields.key_id,
        "generation": fields.generation,
        "issued_at": format_utc(fields.issued_at),
        "valid_until": format_utc(fields.valid_until),
    }


def override_json(override: Override | None) -> dict[str, str] | None:
    if override is None:
        return None
    card = getattr(override, "card", None)  # a supervisor card, where this tree has them
    return {"supervisor": override.supervisor, "reason": override.reason} | (
        {} if card is None else {"card": card}
    )


@dataclass(frozen=True)
class _Check:
    ok: bool


@dataclass(frozen=True)
class _Guard:
    """A clock guard whose every check says ``ok`` (the scanner's ClockGuard, stubbed)."""

    ok: bool

    def check(self, now: datetime) -> _Check:
        del now
        return _Check(self.ok)


@dataclass
class _LocalStates:
    """The device's own state of one household (what the journal would give)."""

    state: HouseholdState | None
    entered: tuple[str, ...] = ()
    """Pass texts this device let someone in with (its journal: a single-use visitor pass)."""

    def entered_with(self, pass_text: str) -> bool:
        return pass_text in self.entered

    def local_household(self, household_id: int, *, since: datetime) -> HouseholdState | None:
        del since
        if self.state is None or self.state.household_id != household_id:
            return None
        return self.state


@dataclass
class Corpus:
    """Cases and the shared tables they refer to (rule sets, key sets, bundles)."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    bundles: dict[str, dict[str, Any]] = field(default_factory=dict)
    _rule_names: dict[str, str] = field(default_factory=dict)

    def rules_name(self, rules: RuleSet) -> str:
        """The table name of ``rules`` (registered on first use)."""
        canonical = rules.to_json()
        name = self._rule_names.get(canonical)
        if name is None:
            name = f"r{len(self._rule_names):03d}"
            self._rule_names[canonical] = name
            self.rulesets[name] = rules.to_dict()
        return name

    def add_case(self, group: str, kind: str, **values: Any) -> dict[str, Any]:
        """A case whose expected answer the caller computed with the Python code."""
        return self._case(group, kind, **values)

    def _case(self, group: str, kind: str, **values: Any) -> dict[str, Any]:
        case = {"id": f"{len(self.cases):04d}/{group}", "kind": kind, **values}
        self.cases.append(case)
        return case

    def add_decide(
        self,
        group: str,
        presented: str,
        *,
        rules: RuleSet,
        now: datetime,
        household: HouseholdState | None,
        direction: Direction = Direction.OUT,
        temperature: object = 365,
        override: Override | None = None,
        revoked: tuple[bytes, ...] = (),
        keys: str = "main",
        community_id: int = COMMUNITY,
        people: int = 1,
    ) -> dict[str, Any]:
        """A case of passes.decide on a scanned text (``people`` written only when not 1)."""
        verdict = decide(
            presented,
            keys=KEYSETS[keys],
            community_id=community_id,
            household=household,
            revoked_pass_ids=frozenset(revoked),
            rules=rules,
            direction=direction,
            temperature=temperature,
            now=now,
            override=override,
            people=people,
        )
        return self._case(
            group,
            "decide",
            **({"people": people} if people != 1 else {}),
            presented=presented,
            keys=keys,
            community_id=community_id,
            household=None if household is None else household.to_dict(),
            revoked=[pass_id.hex() for pass_id in revoked],
            rules=self.rules_name(rules),
            direction=direction.value,
            temperature=temperature_json(temperature),
            now=format_utc(now),
            override=override_json(override),
            expected=verdict_json(verdict),
        )

    def add_screen(
        self,
        group: str,
        presented: str,
        *,
        issued: Pass | None,
        rules: RuleSet,
        now: datetime,
        household: HouseholdState | None,
        direction: Direction = Direction.OUT,
        temperature: object = 365,
        override: Override | None = None,
        revoked: tuple[bytes, ...] = (),
        keys: str = "main",
        community_id: int = COMMUNITY,
    ) -> dict[str, Any]:
        """A case of a screen code: verify_screen_code, screen_pass_check, then decide."""
        keyset = KEYSETS[keys]
        check = screen_pass_check(
            verify_screen_code(presented, keyset, now),
            issued,
            keyset,
            community_id=community_id,
            now=now,
        )
        verdict = decide(
            check,
            keys=keyset,
            community_id=community_id,
            household=household,
            revoked_pass_ids=frozenset(revoked),
            rules=rules,
            direction=direction,
            temperature=temperature,
            now=now,
            override=override,
        )
        return self._case(
            group,
            "screen",
            presented=presented,
            issued=None if issued is None else pass_json(issued),
            keys=keys,
            community_id=community_id,
            household=None if household is None else household.to_dict(),
            revoked=[pass_id.hex() for pass_id in revoked],
            rules=self.rules_name(rules),
            direction=direction.value,
            temperature=temperature_json(temperature),
            now=format_utc(now),
            override=override_json(override),
            expected=verdict_json(verdict),
        )

    def add_verify(
        self,
        group: str,
        presented: object,
        *,
        now: datetime,
        keys: str = "main",
        community_id: int = COMMUNITY,
        screen: bool = False,
    ) -> dict[str, Any]:
        """A case of verify_pass (or verify_screen_code): the check's code and detail."""
        keyset = KEYSETS[keys]
        check = (
            verify_screen_code(presented, keyset, now)
            if screen
            else verify_pass(presented, keyset, community_id=community_id, now=now)
        )
        if isinstance(check, PassRejected):
            expected = {
                "kind": "rejected",
                "code": str(check.code),
                "detail": check.detail,
                "household_id": None if check.fields is None else check.fields.household_id,
            }
        else:
            fields = check.fields
            expected = {
                "kind": "screen" if screen else "verified",
                "code": None,
                "detail": None,
                "household_id": getattr(fields, "household_id", None),
            }
        return self._case(
            group,
            "verify_screen" if screen else "verify",
            presented=presented,
            keys=keys,
            community_id=community_id,
            now=format_utc(now),
            expected=expected,
        )

    def add_bundle_case(
        self,
        group: str,
        bundle_name: str | None,
        text: str,
        *,
        now: datetime,
        fetched_at: datetime | None = None,
        direction: Direction = Direction.OUT,
        temperature: int | None = 365,
        override: Override | None = None,
        max_bundle_age: timedelta = timedelta(hours=24),
        local: HouseholdState | None = None,
        unlocked: bool = False,
        clock_fault: bool = False,
        entered: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A case of the scanner's offline decision (scanner.deciding.decide_offline).
        ``entered``: texts the device let someone in with (its own visitor pass uses)."""
        bundle = None
        if bundle_name is not None:
            data = self.bundles[bundle_name]
            generated = ScannerBundle.from_dict(data, fetched_at=now).generated_at
            bundle = ScannerBundle.from_dict(data, fetched_at=fetched_at or generated)
        request = ScanRequest(
            pass_text=text, direction=direction, temperature=temperature, override=override
        )
        flags = (
            {"unlocked": unlocked, "clock_fault": clock_fault} if unlocked or clock_fault else {}
        )
        decision = decide_offline(
            request,
            bundle,
            local=_LocalStates(local, entered),
            scanned_at=now,
            max_bundle_age=max_bundle_age,
            **flags,
        )
        return self._case(
            group,
            "bundle",
            bundle=bundle_name,
            fetched_at=None if bundle is None else format_utc(bundle.fetched_at),
            text=text,
            direction=direction.value,
            temperature=temperature,
            now=format_utc(now),
            override=override_json(override),
            max_bundle_age_s=int(max_bundle_age.total_seconds()),
            local=None if local is None else local.to_dict(),
            unlocked=unlocked,
            clock_fault=clock_fault,
            **({"entered": list(entered)} if entered else {}),
            expected=decision_json(decision),
        )

    def add_unlock_case(
        self, group: str, bundle_name: str | None, card_text: str, *, now: datetime, faulty: bool
    ) -> dict[str, Any]:
        """A case of the scanner's unlock with a supervisor card (Decider.unlock)."""
        bundle = None
        if bundle_name is not None:
            data = self.bundles[bundle_name]
            generated = ScannerBundle.from_dict(data, fetched_at=now).generated_at
            bundle = ScannerBundle.from_dict(data, fetched_at=generated)
        decider = Decider(
            client=None,
            bundles=lambda: bundle,
            local=None,
            now=lambda: now,
            guard=_Guard(ok=not faulty),  # type: ignore[arg-type]
        )
        refusal = decider.unlock(card_text)
        expected: dict[str, Any] = {"unlocked": refusal is None}
        if refusal is not None:
            expected |= decision_json(refusal)
        return self._case(
            group,
            "unlock",
            bundle=bundle_name,
            card=card_text,
            now=format_utc(now),
            clock_fault=faulty,
            expected=expected,
        )
