"""The scanner side of the golden wire vectors (tests/passes/vectors/wire_v1/).

The scanner reads the verdict, batch-result and bundle vectors as a gate would send them,
refuses the invalid ones as malformed answers (decide offline, retry later), and builds its
scan and offline-crossing bodies exactly as the scan and crossing vectors are written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from passes import Direction, HouseholdState, Override, parse_utc
from scanner.api_client import ApiClient, Unreachable
from scanner.bundle import Bundle
from scanner.deciding import ScanRequest, decide_offline, from_server, scan_message
from scanner.journal import CrossingEntry, JournalRow
from scanner.sync import upload_item

VECTORS = Path(__file__).parents[1] / "passes" / "vectors"


def load(kind: str) -> dict[str, Any]:
    return json.loads((VECTORS / "wire_v1" / f"{kind}.json").read_text("utf-8"))  # type: ignore[no-any-return]


def cases(kind: str, group: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in load(kind)[group]]


def serving(body: object) -> Callable[[], ApiClient]:
    def client() -> ApiClient:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
        return ApiClient("http://gate", "t", transport=transport)

    return client


def _scan_request(body: dict[str, Any]) -> ScanRequest:
    override = body["override"]
    return ScanRequest(
        pass_text=body["pass"],
        direction=Direction(body["direction"]),
        temperature=body["temperature"],
        operator=body["operator"],
        override=None if override is None else Override(**override),
        crossing_id=body["id"],
    )


@pytest.mark.parametrize("case", cases("verdict", "valid"))
def test_the_scanner_shows_a_verdict_vector_as_sent(case: dict[str, Any]) -> None:
    body = case["json"]
    scan = load("scan")["valid"][0]["json"]
    with serving(body)() as client:
        answer = client.scan(scan_message(_scan_request(scan), datetime.now(UTC)))
    decision = from_server(_scan_request(scan), answer, datetime.now(UTC), None, None)
    verdict = body["verdict"]
    assert (decision.allowed, decision.display, decision.code) == (
        verdict["allowed"],
        verdict["display"],
        verdict["code"],
    )
    assert list(decision.codes) == verdict["codes"]
    assert list(decision.notes) == verdict["notes"]
    assert (decision.reason_zh, decision.reason_en) == (verdict["reason_zh"], verdict["reason_en"])
    assert decision.next_exit_at == parse_utc(verdict["next_exit_at"])
    assert decision.rule_version == verdict["rule_version"]
    assert decision.household_label == body["household_label"]
    assert decision.server_crossing_id == body["crossing_id"]
    assert decision.offline is False


@pytest.mark.parametrize("case", cases("verdict", "invalid"))
def test_an_invalid_verdict_vector_is_a_malformed_answer(case: dict[str, Any]) -> None:
    scan = load("scan")["valid"][0]["json"]
    with (
        serving(case["json"])() as client,
        pytest.raises(Unreachable, match=re.escape(case["field"])),
    ):
        client.scan(scan_message(_scan_request(scan), datetime.now(UTC)))


def _journal_row(item: dict[str, Any]) -> JournalRow:
    override = item["override"]
    entry = CrossingEntry(
        id=item["id"],
        pass_text=item["pass"],
        direction=Direction(item["direction"]),
        temperature=item["temperature"],
        scanned_at=datetime.fromisoformat(item["scanned_at"].replace("Z", "+00:00")),
        verdict={**item["verdict"], "display": "allow", "reason_zh": "", "degraded": False},
        offline=True,
        operator=item["operator"],
        override=None if override is None else Override(**override),
        latency_ms=item["latency_ms"],
    )
    return JournalRow(entry, seq=1, attempts=0, error=None, conflict_code=None, acked_at=None)


@pytest.mark.parametrize("case", cases("batch", "valid"))
def test_the_scanner_uploads_journal_rows_as_the_batch_vector(case: dict[str, Any]) -> None:
    sent: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=load("batch_result")["valid"][1]["json"])

    rows = [_journal_row(item) for item in case["json"]["crossings"]]
    with ApiClient("http://gate", "t", transport=httpx.MockTransport(handler)) as client:
        assert client.upload_batch([upload_item(row) for row in rows]) == []
    assert sent == [case["json"]]


@pytest.mark.parametrize("case", cases("scan", "valid"))
def test_the_scanner_builds_scan_bodies_as_the_vectors(case: dict[str, Any]) -> None:
    body = case["json"]
    message = scan_message(_scan_request(body), parse_utc(body["scanned_at"]) or datetime.now(UTC))
    expected = {**body, "latency_ms": None}  # the decider never reports a latency itself
    assert message.to_json() == expected


@pytest.mark.parametrize("case", cases("batch_result", "valid"))
def test_the_scanner_reads_a_batch_result_vector(case: dict[str, Any]) -> None:
    with serving(case["json"])() as client:
        results = client.upload_batch([])
    assert [result.to_json() for result in results] == case["json"]["results"]


@pytest.mark.parametrize("case", cases("batch_result", "invalid"))
def test_an_invalid_batch_result_vector_is_a_malformed_answer(case: dict[str, Any]) -> None:
    with (
        serving(case["json"])() as client,
        pytest.raises(Unreachable, match=re.escape(case["field"])),
    ):
        client.upload_batch([])


@pytest.mark.parametrize("case", cases("bundle", "valid"))
def test_the_scanner_reads_a_bundle_vector(case: dict[str, Any]) -> None:
    body = case["json"]
    fetched = datetime(2026, 11, 22, 1, tzinfo=UTC)
    bundle = Bundle.from_dict(body, fetched_at=fetched, etag=body["content_hash"])
    assert bundle.content_hash == body["content_hash"]
    assert bundle.community_id == body["community"]["id"]
    assert bundle.timezone == body["community"]["timezone"]
    assert bundle.rules.to_dict() == body["rules"]
    assert bundle.keys.to_list() == body["keys"]
    assert sorted(p.hex() for p in bundle.revoked_pass_ids) == sorted(body["revoked_pass_ids"])
    assert {h: s.to_dict() for h, s in bundle.households.items()} == {
        h["household_id"]: h for h in body["households"]
    }


@pytest.mark.parametrize("case", cases("bundle", "invalid"))
def test_an_invalid_bundle_vector_is_refused_unless_it_is_a_cached_v0_bundle(
    case: dict[str, Any],
) -> None:
    from scanner.bundle import BundleError

    fetched = datetime(2026, 11, 22, 1, tzinfo=UTC)
    if "format" not in case["json"]:
        # Bundles cached before the wire format are still read (see passes.wire.from_v0).
        Bundle.from_dict(case["json"], fetched_at=fetched)
        return
    with pytest.raises(BundleError, match=re.escape(case["field"])):
        Bundle.from_dict(case["json"], fetched_at=fetched)


def test_a_scanner_decides_a_golden_pass_offline_from_the_bundle_vector() -> None:
    passes_v1 = json.loads((VECTORS / "pass_v1.json").read_text("utf-8"))
    golden = passes_v1["valid"][0]
    body = load("bundle")["valid"][0]["json"]
    at = parse_utc(body["generated_at"])
    assert at is not None
    bundle = Bundle.from_dict(body, fetched_at=at)
    household = golden["fields"]["household_id"]
    assert bundle.households[household] == HouseholdState(household)

    def decide(direction: Direction, tenths: int | None) -> tuple[bool, str | None]:
        request = ScanRequest(golden["text"], direction, tenths)
        decision = decide_offline(
            request,
            bundle,
            local=None,
            scanned_at=at + timedelta(minutes=5),
            max_bundle_age=timedelta(hours=24),
        )
        return decision.allowed, decision.code

    assert decide(Direction.OUT, 365) == (True, None)
    assert decide(Direction.OUT, 380) == (False, "fever")
    assert decide(Direction.OUT, None) == (False, "no_temperature")
