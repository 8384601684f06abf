"""The gate side of the golden wire vectors (tests/passes/vectors/wire_v1/).

``gate.api.schemas`` reads the scan, crossing and batch vectors as a scanner sends them and
refuses the invalid ones with a 422 naming the field; the real scanner API answers in the
shape of the verdict, batch-result and bundle vectors (every answer parses as its format).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, build_compound
from sqlalchemy import Engine

from gate.api.schemas import ApiError, batch_items, parse_batch_item, parse_scan
from passes import Direction, format_utc, parse_utc, wire

VECTORS = Path(__file__).parents[2] / "passes" / "vectors" / "wire_v1"


def load(kind: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{kind}.json").read_text("utf-8"))  # type: ignore[no-any-return]


def cases(kind: str, group: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in load(kind)[group]]


def _at(body: dict[str, Any]) -> Any:
    return parse_utc(body["scanned_at"])


@pytest.mark.parametrize("case", cases("scan", "valid"))
def test_the_gate_reads_a_scan_vector(case: dict[str, Any]) -> None:
    body = case["json"]
    request = parse_scan(body, now=_at(body))
    assert request.client_id == body["id"]
    assert request.pass_text == body["pass"]
    assert request.direction is Direction(body["direction"])
    assert request.temperature == body["temperature"]
    assert format_utc(request.scanned_at) == body["scanned_at"]
    assert request.operator == body["operator"]
    assert request.latency_ms == body["latency_ms"]
    override = request.override
    shown = (
        None if override is None else {"supervisor": override.supervisor, "reason": override.reason}
    )
    assert shown == body["override"]


@pytest.mark.parametrize("case", cases("scan_supervisor_card", "valid"))
def test_the_gate_reads_the_supervisor_card_of_a_scan_vector(case: dict[str, Any]) -> None:
    body = case["json"]
    request = parse_scan(body, now=_at(body))
    assert request.override is not None
    assert request.override.card == body["override"]["supervisor_card"]
    assert request.override.reason == body["override"]["reason"]


@pytest.mark.parametrize("case", cases("crossing_supervisor_card", "valid"))
def test_the_gate_reads_the_supervisor_card_of_an_offline_crossing(case: dict[str, Any]) -> None:
    body = case["json"]
    request, claim = parse_batch_item(body, now=_at(body))
    assert request.override is not None
    assert request.override.card == body["override"]["supervisor_card"]
    assert claim.allowed is True
    assert "override" in claim.notes


@pytest.mark.parametrize("case", cases("scan", "invalid"))
def test_the_gate_refuses_an_invalid_scan_vector_with_a_422_naming_the_field(
    case: dict[str, Any],
) -> None:
    body = case["json"]
    if isinstance(body, dict) and "format" not in body:
        pytest.skip("no format: a v0 body, read as scanners sent it before the wire format")
    with pytest.raises(ApiError) as info:
        parse_scan(body, now=_at(load("scan")["valid"][0]["json"]))
    assert (info.value.status, info.value.code) == (422, "invalid_field")
    assert info.value.message.startswith(f"{case['field']}: ")


@pytest.mark.parametrize("case", cases("crossing", "valid"))
def test_the_gate_reads_an_offline_crossing_vector(case: dict[str, Any]) -> None:
    body = case["json"]
    request, claim = parse_batch_item(body, now=_at(body))
    assert parse_scan(body, now=_at(body)) == request
    assert request.client_id == body["id"]
    assert (claim.allowed, claim.code, list(claim.codes), list(claim.notes)) == (
        body["verdict"]["allowed"],
        body["verdict"]["code"],
        body["verdict"]["codes"],
        body["verdict"]["notes"],
    )
    assert claim.rule_version == body["verdict"]["rule_version"]


@pytest.mark.parametrize("case", cases("crossing", "invalid"))
def test_the_gate_refuses_an_invalid_crossing_vector_naming_the_field(
    case: dict[str, Any],
) -> None:
    body = case["json"]
    if "format" not in body:
        pytest.skip("no format: a v0 item, read as scanners sent it before the wire format")
    with pytest.raises(ApiError) as info:
        parse_batch_item(body, now=_at(body))
    assert info.value.message.startswith(f"{case['field']}: ")


@pytest.mark.parametrize("case", cases("batch", "valid"))
def test_the_gate_reads_a_batch_vector_item_by_item(case: dict[str, Any]) -> None:
    items = batch_items(case["json"])
    assert items == case["json"]["crossings"]
    for item in items:
        parse_batch_item(item, now=_at(item))


@pytest.mark.parametrize("case", cases("batch", "invalid"))
def test_the_gate_refuses_an_invalid_batch_envelope(case: dict[str, Any]) -> None:
    body = case["json"]
    if "format" not in body or "[" in case["field"]:
        pytest.skip("a v0 envelope, or a bad item: items are judged one by one")
    with pytest.raises(ApiError) as info:
        batch_items(body)
    assert info.value.message.startswith(f"{case['field']}: ")


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=3)
    try:
        yield built
    finally:
        built.dispose()


def test_the_scan_api_answers_in_the_shape_of_the_verdict_vectors(compound: Compound) -> None:
    client = compound.client()
    vector = load("scan")["valid"][0]["json"]
    verdicts = [case["json"] for case in load("verdict")["valid"]]
    for resident in compound.residents:
        body = {
            **vector,
            "id": str(uuid.uuid4()),
            "pass": resident.pass_text,
            "scanned_at": format_utc(compound.clock()),
        }
        response = client.post("/api/v1/scans", json=body, headers=compound.headers())
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
        assert wire.ScanAnswer.from_json(answer).to_json() == answer
        assert all(set(answer) == set(v) for v in verdicts)
        assert all(set(answer["verdict"]) == set(v["verdict"]) for v in verdicts)


def test_the_batch_and_bundle_apis_answer_in_the_shape_of_their_vectors(
    compound: Compound,
) -> None:
    client = compound.client()
    vector = load("crossing")["valid"][0]["json"]
    item = {
        **vector,
        "id": str(uuid.uuid4()),
        "pass": compound.residents[0].pass_text,
        "scanned_at": format_utc(compound.clock()),
    }
    bad = {**item, "id": str(uuid.uuid4()), "direction": "sideways"}
    response = client.post(
        "/api/v1/crossings/batch",
        json={"format": wire.BATCH_FORMAT, "crossings": [item, bad]},
        headers=compound.headers(),
    )
    assert response.status_code == 200, response.get_json()
    result = wire.BatchResult.from_json(response.get_json())
    assert [r.status for r in result.results] == ["stored", "rejected"]
    assert result.results[1].error is not None
    assert result.results[1].error.message.startswith("direction: ")
    expected_keys = set(load("batch_result")["valid"][0]["json"]["results"][0])
    assert all(set(r) == expected_keys for r in response.get_json()["results"])

    answer = client.get("/api/v1/bundle", headers=compound.headers())
    assert answer.status_code == 200
    bundle = wire.Bundle.from_json(answer.get_json())
    assert answer.headers["ETag"] == f'"{bundle.content_hash}"'
    assert set(answer.get_json()) == set(load("bundle")["valid"][0]["json"]) | set(
        wire.BUNDLE_OPTIONAL
    )
    assert bundle.community.id == compound.community_id
