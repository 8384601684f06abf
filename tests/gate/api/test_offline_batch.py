"""Offline uploads (``POST /api/v1/crossings/batch``) against a reference model.

Two scanners at the gate lose the network. Each decides alone, with ``passes.decide`` on the
bundle it fetched before, advancing its own copy of each household's state with its own
crossings only (as the scanner does), so each may allow what the other already used: two
exits in one quota window, or an exit while someone is out. Then both upload, each its own
journal in batches of at most 500, the two devices' batches interleaved.

The server's contract, which the reference model restates: every offline crossing is
stored as the scanner decided it, advances its household by what physically happened, and
is re-decided at its scan time against the household as the server knows it *when the
item arrives*; it is flagged a conflict (``conflict_code``: the server's refusal code) when
the scanner allowed what that re-decision refuses. So a household's conflicts are judged in
arrival order: of two conflicting crossings, the one uploaded second carries the flag.

Within one device's upload the households are shuffled but each household's crossings keep
their journal (time) order; across the two devices, a household's crossings may arrive out of
time order, and the model follows the same arrival order. A second upload of everything,
fully shuffled, is all ``duplicate``. Malformed items are stored as rejected, reported per
item, and do not stop the rest.

Every run uploads 5000 crossings, the size the gate server issue names.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import START, Compound, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine, select

from gate.crossings.models import Crossing
from gate.db import transaction
from passes import (
    Direction,
    HouseholdState,
    KeySet,
    RuleSet,
    Verdict,
    advance,
    decide,
    rules_from_dict,
)

HOUSEHOLDS = 120
BATCH = 500
SIZES = [
    pytest.param(5000, id="5000"),
]


@dataclass(frozen=True)
class Offline:
    """One crossing an offline scanner decided."""

    device: int
    household_id: int
    at: datetime
    body: dict[str, Any]
    claim: Verdict


@dataclass
class Expected:
    conflict: bool
    conflict_code: str | None


@dataclass(frozen=True)
class Bundle:
    keys: KeySet
    rules: RuleSet
    community_id: int


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=HOUSEHOLDS, extra_devices=1)
    try:
        yield built
    finally:
        built.dispose()


def _bundle(compound: Compound, token: str) -> Bundle:
    response = compound.client().get("/api/v1/bundle", headers=compound.headers(token))
    assert response.status_code == 200
    body = response.get_json()
    return Bundle(
        KeySet.from_list(body["keys"]), rules_from_dict(body["rules"]), body["community"]["id"]
    )


def _decide(
    bundle: Bundle, text: str, state: HouseholdState, item: dict[str, Any], at: datetime
) -> Verdict:
    return decide(
        text,
        keys=bundle.keys,
        community_id=bundle.community_id,
        household=state,
        revoked_pass_ids=frozenset(),
        rules=bundle.rules,
        direction=Direction(item["direction"]),
        temperature=item["temperature"],
        now=at,
    )


def _offline_period(
    compound: Compound, bundle: Bundle, rng: random.Random, total: int
) -> list[Offline]:
    """Every crossing both scanners decided offline, in time order per household."""
    per_household = total // len(compound.residents)
    extra = total - per_household * len(compound.residents)
    crossings: list[Offline] = []
    for index, resident in enumerate(compound.residents):
        views = [HouseholdState(household_id=resident.household_id) for _ in range(2)]
        at = START + timedelta(minutes=rng.randint(1, 600))
        out = 0  # people physically out, by the scanners' own verdicts
        for _ in range(per_household + (1 if index < extra else 0)):
            at += timedelta(minutes=rng.randint(20, 20 * 60))
            device = rng.randrange(2)
            direction = "in" if out and rng.random() < 0.75 else "out"
            temperature = rng.choices(
                [rng.randint(358, 369), rng.randint(373, 390), 500], weights=[95, 4, 1]
            )[0]
            body = scan_body(
                resident.pass_text,
                direction,
                temperature,
                scanned_at=at,
                client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            )
            claim = _decide(bundle, resident.pass_text, views[device], body, at)
            body["verdict"] = {
                "allowed": claim.allowed,
                "code": claim.code.value if claim.code else None,
                "codes": [code.value for code in claim.codes],
                "notes": [note.value for note in claim.notes],
                "rule_version": claim.rule_version,
            }
            views[device] = advance(views[device], claim.direction, claim.allowed, at, bundle.rules)
            if claim.allowed:
                out = out + 1 if direction == "out" else max(out - 1, 0)
            crossings.append(Offline(device, resident.household_id, at, body, claim))
    assert max(c.at for c in crossings) < START + timedelta(days=29)  # passes still valid
    return crossings


def _journal_order(crossings: list[Offline], device: int, rng: random.Random) -> list[Offline]:
    """One device's crossings, households shuffled, each household's in time order."""
    queues: dict[int, list[Offline]] = {}
    for crossing in sorted(crossings, key=lambda c: c.at):
        if crossing.device == device:
            queues.setdefault(crossing.household_id, []).append(crossing)
    turns = [h for h, items in queues.items() for _ in items]
    rng.shuffle(turns)
    return [queues[h].pop(0) for h in turns]


def _malformed(compound: Compound) -> list[Any]:
    card = compound.residents[0].pass_text
    good = scan_body(card, "out", scanned_at=START + timedelta(hours=1))
    verdict: dict[str, Any] = {
        "allowed": True,
        "code": None,
        "codes": [],
        "notes": [],
        "rule_version": 1,
    }
    return [
        {**good, "id": str(uuid.uuid4()), "direction": "sideways", "verdict": verdict},
        {**good, "id": str(uuid.uuid4())},  # no verdict
        {**good, "id": str(uuid.uuid4()), "verdict": {**verdict, "allowed": "yes"}},
        {**good, "id": str(uuid.uuid4()), "scanned_at": "yesterday", "verdict": verdict},
        {**good, "id": str(uuid.uuid4()), "pass": "", "verdict": verdict},
        {**good, "id": "not-a-uuid", "verdict": verdict},
        ["not", "an", "object"],
    ]


def _batches(
    per_device: list[list[dict[str, Any]]], rng: random.Random
) -> list[tuple[int, list[dict[str, Any]]]]:
    """Each device's items in order, cut into batches of <= BATCH; devices interleaved."""
    pending = [
        [(device, items[i : i + BATCH]) for i in range(0, len(items), BATCH)]
        for device, items in enumerate(per_device)
    ]
    order = [device for device, batches in enumerate(pending) for _ in batches]
    rng.shuffle(order)
    return [pending[device].pop(0) for device in order]


def _reference(
    compound: Compound, bundle: Bundle, arrivals: list[dict[str, Any]], by_id: dict[str, Offline]
) -> dict[str, Expected]:
    """What the server must answer for each item: whether the rules would have refused it
    had every gate known every crossing that had arrived by then, judged in scan order
    (the household timeline; ties in scan time go by arrival). A flagged crossing still
    happened, so it counts for the ones after it."""
    texts = {r.household_id: r.pass_text for r in compound.residents}
    known: dict[int, list[tuple[datetime, int, dict[str, Any], Offline]]] = {h: [] for h in texts}
    expected: dict[str, Expected] = {}
    for index, item in enumerate(arrivals):
        crossing = by_id.get(item["id"]) if isinstance(item, dict) else None
        if crossing is None:
            continue  # malformed: stored as rejected, changes no household
        if not crossing.claim.allowed:
            expected[item["id"]] = Expected(False, None)  # refused: nothing happened
            continue
        timeline = known[crossing.household_id]
        timeline.append((crossing.at, index, item, crossing))
        timeline.sort(key=lambda entry: (entry[0], entry[1]))
        state = HouseholdState(household_id=crossing.household_id)
        for at, position, known_item, known_crossing in timeline:
            if position == index:
                server = _decide(bundle, texts[crossing.household_id], state, known_item, at)
                conflict = not server.allowed
                expected[item["id"]] = Expected(
                    conflict, server.code.value if conflict and server.code else None
                )
                break
            state = advance(state, known_crossing.claim.direction, True, at, bundle.rules)
    return expected


@pytest.mark.parametrize("total", SIZES)
def test_offline_crossings_are_stored_once_with_conflicts_where_the_model_says(
    compound: Compound, total: int
) -> None:
    rng = random.Random(total)
    tokens = [compound.token, *compound.extra_tokens]
    bundle = _bundle(compound, tokens[0])
    crossings = _offline_period(compound, bundle, rng, total)
    by_id = {c.body["id"]: c for c in crossings}
    malformed = _malformed(compound)
    journals: list[list[dict[str, Any]]] = [
        [c.body for c in _journal_order(crossings, device, rng)] for device in range(2)
    ]
    for item in malformed:  # somewhere in the middle of the first scanner's journal
        journals[0].insert(rng.randrange(len(journals[0])), item)
    compound.clock.set(START + timedelta(days=30))  # the network is back; uploads begin

    first_batches = _batches(journals, rng)
    first = _upload(compound, tokens, first_batches)
    arrivals = [item for _device, batch in first_batches for item in batch]
    expected = _reference(compound, bundle, arrivals, by_id)

    # Every well-formed crossing stored once, flagged exactly where the model says.
    stored = {r["id"]: r for r in first if r["status"] == "stored"}
    assert set(stored) == set(by_id)
    assert {i: Expected(r["conflict"], r["conflict_code"]) for i, r in stored.items()} == expected
    conflicts = Counter(e.conflict_code for e in expected.values() if e.conflict)
    assert conflicts["quota"] > 0
    assert conflicts["already_out"] > 0
    assert set(conflicts) <= {"quota", "already_out"}

    # Malformed items: kept as rejected rows, reported per item with the reason.
    rejected = [r for r in first if r["status"] == "rejected"]
    assert len(rejected) == len(malformed)
    assert all(r["error"]["code"] == "invalid_field" and r["crossing_id"] for r in rejected)
    assert sorted(r["id"] is None for r in rejected) == [False] * 5 + [True] * 2

    # The second upload, fully shuffled: nothing new, every answer as before.
    again = [list(journal) for journal in journals]
    for journal in again:
        rng.shuffle(journal)
    second = _upload(compound, tokens, _batches(again, rng))
    assert Counter(r["status"] for r in second) == {
        "duplicate": len(by_id),
        "rejected": len(malformed),
    }
    first_ids = {(r["id"], r["crossing_id"], r["conflict"], r["conflict_code"]) for r in first}
    assert {(r["id"], r["crossing_id"], r["conflict"], r["conflict_code"]) for r in second} == (
        first_ids
    )

    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(select(Crossing)).all()
    assert len(rows) == len(by_id) + len(malformed)
    assert all(row.offline for row in rows)
    for row in rows:
        if row.rejected:
            assert row.rejection_reason
            continue
        crossing = by_id[row.client_id]
        assert row.allowed is crossing.claim.allowed  # stored as the scanner decided
        assert row.scanned_at == crossing.at
        assert (row.conflict, row.conflict_code) == (
            expected[row.client_id].conflict,
            expected[row.client_id].conflict_code,
        )
    assert assert_chain_intact(compound) == len(rows)


def _upload(
    compound: Compound, tokens: list[str], batches: list[tuple[int, list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """Send ``batches`` in order (each with its device's token); the per-item results."""
    client = compound.client()
    results = []
    for device, batch in batches:
        assert len(batch) <= BATCH
        response = compound.upload(client, batch, token=tokens[device])
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()["results"]
        assert len(answer) == len(batch)
        results.extend(answer)
    return results
