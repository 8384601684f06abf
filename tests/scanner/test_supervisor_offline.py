"""The scanner with the bundle's offline extras: household codes on the offline verdict,
rotating screen codes checked offline, supervisor cards (override and unlock) online and
offline, a revoked card refused after a bundle refresh."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from passes import (
    CardState,
    Direction,
    HouseholdState,
    KeySet,
    Pass,
    RuleSet,
    SigningKey,
    card_for,
    new_pass_id,
    screen_code_for,
    sign_screen_code,
    sign_supervisor_card,
    wire,
)
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache, save_bundle
from scanner.deciding import Decider, Decision, ScanRequest
from scanner.journal import CrossingEntry, Journal
from scanner.sync import upload_item

COMMUNITY_ID = 7
NOW = datetime(2024, 3, 22, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
FEVER = 381
NORMAL = 365
CODES = {1: "3-2-401", 2: "3-2-402", 3: "5-1-101"}


@dataclass
class Site:
    """A community's key, three households with one pass each, supervisor cards, a bundle."""

    key: SigningKey = field(default_factory=lambda: SigningKey.generate(1))
    passes: dict[int, Pass] = field(default_factory=dict)
    cards: dict[str, bytes] = field(default_factory=dict)
    revoked: set[bytes] = field(default_factory=set)
    revoked_passes: set[bytes] = field(default_factory=set)

    def __post_init__(self) -> None:
        for household_id in CODES:
            self.passes[household_id] = Pass(
                key_id=1,
                pass_id=new_pass_id(),
                household_id=household_id,
                community_id=COMMUNITY_ID,
                generation=1,
                issued_at=NOW - timedelta(days=30),
                valid_until=NOW + timedelta(days=365),
            )

    def text(self, household_id: int) -> str:
        return self.key.sign(self.passes[household_id])

    def screen_code(self, household_id: int, made: datetime) -> str:
        fields = screen_code_for(
            self.passes[household_id],
            key_id=1,
            valid_from=made - timedelta(seconds=30),
            lifetime=timedelta(minutes=2, seconds=30),
        )
        return sign_screen_code(self.key, fields)

    def card(self, name: str, *, account_id: int = 42) -> str:
        card_id = uuid.uuid4().bytes[:12]
        self.cards[name] = card_id
        fields = card_for(
            key_id=1,
            card_id=card_id,
            account_id=account_id,
            community_id=COMMUNITY_ID,
            issued_at=NOW - timedelta(days=1),
            valid_for=timedelta(days=90),
        )
        return sign_supervisor_card(self.key, fields)

    def bundle(self, *, generated_at: datetime = NOW, codes: bool = True) -> dict[str, Any]:
        return wire.Bundle.build(
            generated_at=generated_at,
            community=wire.Community(COMMUNITY_ID, "幸福里", "Asia/Shanghai"),
            rules=RuleSet(),
            keys=KeySet((self.key.entry,)),
            revoked_pass_ids=tuple(sorted(self.revoked_passes)),
            households=tuple(HouseholdState(household_id) for household_id in CODES),
            household_codes=CODES if codes else None,
            passes=tuple(self.passes.values()) if codes else None,
            supervisor_cards=tuple(
                CardState(card_id, 42, NOW + timedelta(days=89))
                for card_id in self.cards.values()
                if card_id not in self.revoked
            ),
            revoked_card_ids=tuple(sorted(self.revoked)),
        ).to_json()


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.mono = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.now += step
        self.mono += step.total_seconds()


class Gate:
    """A decider over a journal holding the site's bundle, offline unless a server is given."""

    def __init__(
        self,
        tmp_path: Path,
        site: Site,
        *,
        server: httpx.MockTransport | None = None,
        bundle_age: timedelta = timedelta(0),
        codes: bool = True,
    ) -> None:
        self.site, self.clock = site, Clock()
        self.journal = Journal(tmp_path / f"journal-{uuid.uuid4().hex[:6]}.db")
        self.refresh(fetched_at=NOW - bundle_age, codes=codes)
        self.client = None if server is None else ApiClient("http://gate", "t", transport=server)
        self.decider = Decider(
            client=self.client,
            bundles=BundleCache(self.journal).current,
            local=self.journal,
            now=self.clock,
            monotonic=self.clock.monotonic,
        )

    def refresh(self, *, fetched_at: datetime | None = None, codes: bool = True) -> None:
        """A bundle fetched from the server (as the sync thread stores it)."""
        at = fetched_at or self.clock()
        save_bundle(
            self.journal, self.site.bundle(generated_at=at, codes=codes), etag=None, fetched_at=at
        )

    def scan(
        self, text: str, tenths: int = NORMAL, direction: Direction = Direction.OUT
    ) -> tuple[ScanRequest, Decision]:
        request = ScanRequest(text, direction, tenths)
        decision = self.decider.decide(request)
        self.record(request, decision)
        return request, decision

    def record(self, request: ScanRequest, decision: Decision) -> None:
        self.journal.record(
            CrossingEntry(
                id=decision.crossing_id,
                pass_text=request.pass_text,
                direction=decision.direction,
                temperature=request.temperature,
                scanned_at=decision.scanned_at,
                verdict=decision.wire_verdict(),
                offline=decision.offline,
                household_id=decision.household_id,
                override=decision.override,
                state="unsent" if decision.offline else "sent",
            ),
            decision.state_after,
        )
        self.clock.advance(seconds=30)

    def close(self) -> None:
        self.journal.close()
        if self.client is not None:
            self.client.close()


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def gate(tmp_path: Path, site: Site) -> Iterator[Gate]:
    g = Gate(tmp_path, site)
    yield g
    g.close()


def test_an_offline_verdict_shows_the_household_code_from_the_bundle(
    tmp_path: Path, site: Site, gate: Gate
) -> None:
    _, decision = gate.scan(site.text(1))
    assert (decision.offline, decision.allowed) == (True, True)
    assert decision.household_label == "3-2-401"
    old = Gate(tmp_path, site, codes=False)  # a server that sends no codes yet
    try:
        assert old.scan(site.text(2))[1].household_label == "住户 #2"
    finally:
        old.close()


def test_a_fresh_screen_code_decides_offline_exactly_like_its_card(
    tmp_path: Path, site: Site, gate: Gate
) -> None:
    by_card = Gate(tmp_path, site)
    try:
        for _ in range(2):  # the second exit is refused already_out, either way
            screen = gate.scan(site.screen_code(1, gate.clock()))[1]
            card = by_card.scan(site.text(1))[1]
            assert (screen.allowed, screen.code, screen.codes, screen.household_id) == (
                card.allowed,
                card.code,
                card.codes,
                card.household_id,
            )
            assert screen.household_label == "3-2-401"
        assert screen.code == "already_out"
    finally:
        by_card.close()


def test_a_three_minute_old_screen_code_is_stale_offline(site: Site, gate: Gate) -> None:
    old = site.screen_code(1, gate.clock() - timedelta(minutes=3))
    _, decision = gate.scan(old)
    assert (decision.allowed, decision.code) == (False, "screen_code_stale")
    assert decision.reason_zh == "动态码已过期，请让住户刷新页面"
    forged = Site().screen_code(1, gate.clock())  # signed by another key with the same id
    assert gate.scan(forged)[1].code == "bad_signature"


def test_an_offline_override_with_a_valid_card_is_allowed_and_uploads_the_card(
    site: Site, gate: Gate
) -> None:
    card = site.card("wang")
    gate.refresh()
    request, refused = gate.scan(site.text(2), FEVER)
    assert (refused.allowed, refused.code) == (False, "fever")
    assert gate.decider.is_supervisor_card(card)
    assert not gate.decider.is_supervisor_card(site.text(2))
    overridden = gate.decider.override(request, refused, card, "就医")
    gate.record(request, overridden)
    assert (overridden.allowed, overridden.code, overridden.offline) == (True, "fever", True)
    assert "override" in overridden.notes
    assert overridden.crossing_id != refused.crossing_id
    assert overridden.override is not None
    assert overridden.override.card == card
    assert overridden.override.reason == "就医"
    row = gate.journal.get(overridden.crossing_id)
    assert row is not None
    item = upload_item(row).to_json()
    assert item["override"]["supervisor_card"] == card
    assert item["verdict"]["allowed"] is True
    assert json.loads(json.dumps(item)) == wire.Crossing.from_json(item).to_json()


def test_a_card_revoked_is_refused_offline_after_the_bundle_is_refreshed(
    site: Site, gate: Gate
) -> None:
    card = site.card("wang")
    gate.refresh()
    request, refused = gate.scan(site.text(2), FEVER)
    assert gate.decider.override(request, refused, card, "就医").allowed is True
    site.revoked.add(site.cards["wang"])
    gate.refresh()
    request, refused = gate.scan(site.text(3), FEVER)
    attempt = gate.decider.override(request, refused, card, "就医")
    assert (attempt.allowed, attempt.code) == (False, "supervisor_card_revoked")
    assert attempt.reason_zh == "主管卡已作废，不能放行"
    assert attempt.override is not None  # the attempt is journaled and uploaded, refused
    forged = Site().card("x")
    bad = gate.decider.override(request, refused, forged, "就医")
    assert (bad.allowed, bad.code) == (False, "supervisor_card_invalid")


def test_an_override_cannot_pass_a_bad_pass_or_a_missing_temperature(
    site: Site, gate: Gate
) -> None:
    card = site.card("wang")
    gate.refresh()
    request, refused = gate.scan(site.text(1), None)  # type: ignore[arg-type]
    assert refused.code == "no_temperature"
    assert gate.decider.override(request, refused, card, "就医").allowed is False
    with pytest.raises(ValueError, match="reason"):
        gate.decider.override(request, refused, card, "  ")


def test_a_card_unlocks_a_stale_bundle_until_the_next_refresh(tmp_path: Path, site: Site) -> None:
    card = site.card("wang")
    gate = Gate(tmp_path, site, bundle_age=timedelta(hours=25))
    try:
        assert gate.scan(site.text(1))[1].code == "stale_bundle"
        refusal = gate.decider.unlock(Site().card("forged"))
        assert refusal is not None
        assert refusal.code == "supervisor_card_invalid"
        assert gate.decider.unlock(card) is None
        _, decision = gate.scan(site.text(1))
        assert decision.allowed is True
        assert {"stale_bundle", "override"} <= set(decision.notes)
        gate.refresh()  # a successful sync ends the unlock (and the bundle is fresh again)
        assert gate.decider.unlocked() is False
        assert gate.scan(site.text(2))[1].allowed is True
    finally:
        gate.close()


def test_a_card_unlocks_a_clock_fault_for_twelve_hours_at_most(tmp_path: Path, site: Site) -> None:
    card = site.card("wang")
    gate = Gate(tmp_path, site)
    try:
        gate.clock.now = NOW - timedelta(hours=2)  # the clock set back behind the bundle
        assert gate.scan(site.text(1))[1].code == "clock_fault"
        assert gate.decider.unlock(card) is None
        _, decision = gate.scan(site.text(1))
        assert decision.allowed is True
        assert {"override", "clock_fault"} <= set(decision.notes)
        gate.clock.mono += 12 * 3600 + 1
        assert gate.scan(site.text(2))[1].code == "clock_fault"
    finally:
        gate.close()


def _server(answers: list[dict[str, Any]], seen: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        verdict = answers.pop(0)
        answer = {
            "format": "checkpoint.verdict.v1",
            "id": body["id"],
            "crossing_id": len(seen),
            "replay": False,
            "verdict": {
                "display": "allow" if verdict["allowed"] else "refuse",
                "next_exit_at": None,
                "rule_version": 1,
                "reason_en": "",
                **verdict,
            },
            "household_label": "3-2-402 张*",
            "next_exit_at": None,
        }
        return httpx.Response(200, json=answer)

    return httpx.MockTransport(handle)


def test_online_the_card_goes_to_the_server_and_its_refusal_code_is_shown(
    tmp_path: Path, site: Site
) -> None:
    card = site.card("wang")
    refused = {
        "allowed": False,
        "code": "fever",
        "codes": ["fever"],
        "notes": [],
        "reason_zh": "体温异常",
    }
    revoked = {
        "allowed": False,
        "code": "fever",
        "codes": ["fever"],
        "notes": ["override_refused", "supervisor_card_revoked"],
        "reason_zh": "主管卡已作废，不能放行",
    }
    allowed = {
        "allowed": True,
        "code": "fever",
        "codes": ["fever"],
        "notes": ["override"],
        "reason_zh": "值班负责人放行",
    }
    seen: list[dict[str, Any]] = []
    gate = Gate(tmp_path, site, server=_server([refused, allowed, revoked], seen))
    try:
        request, first = gate.scan(site.text(2), FEVER)
        assert (first.offline, first.allowed) == (False, False)
        ok = gate.decider.override(request, first, card, "就医")
        assert (ok.offline, ok.allowed) == (False, True)
        assert seen[1]["override"] == {
            "supervisor": ok.override.supervisor if ok.override else None,
            "reason": "就医",
            "supervisor_card": card,
        }
        no = gate.decider.override(request, first, card, "就医")
        assert (no.allowed, no.code) == (False, "supervisor_card_revoked")
        assert no.reason_zh == "主管卡已作废，不能放行"
    finally:
        gate.close()


def test_a_screen_code_of_a_revoked_pass_is_refused_offline_as_its_card_is(
    site: Site, gate: Gate
) -> None:
    site.revoked_passes.add(site.passes[3].pass_id)
    gate.refresh()
    by_screen = gate.scan(site.screen_code(3, gate.clock()))[1]
    by_card = gate.scan(site.text(3))[1]
    assert (by_screen.code, by_card.code) == ("revoked", "revoked")
