"""The resident page's held codes (issue #13): with rotating codes on, /p/<token>/code hands
the phone a bounded batch of consecutive signed codes, each accepted at the gate for its
whole turn on the page and refused as stale soon after; a revoked link gets none at once;
the page carries no static pass and registers a service worker scoped to /p/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from sqlalchemy import Engine

from gate.community.models import Community
from gate.db import transaction
from gate.households.models import Household
from gate.issuing.operations import current_pass
from gate.issuing.resident_links import issue_resident_link, revoke_resident_link
from gate.issuing.screen_codes import check_presented
from gate.resident.codes import HELD_CODES, HORIZON, SHOW_SECONDS
from passes import Code, VerifiedPass, parse_utc
from passes.screen_code import MAX_LIFETIME_SECONDS


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    try:
        yield built
    finally:
        built.dispose()


def _rotating_link(compound: Compound) -> str:
    with transaction(compound.sessions) as session:
        session.get_one(Community, compound.community_id).rotating_codes_enabled = True
        household = session.get_one(Household, compound.residents[0].household_id)
        record = current_pass(session, household)
        assert record is not None
        return issue_resident_link(session, record, "office", compound.clock())


def _check(compound: Compound, text: str, at):  # type: ignore[no-untyped-def]
    with transaction(compound.sessions, read_only=True) as session:
        context = compound.services.contexts.get(session, compound.community_id)
        return check_presented(session, context=context, text=text, now=at)


def test_the_phone_holds_five_minutes_of_codes_each_good_for_its_turn(compound: Compound) -> None:
    token = _rotating_link(compound)
    now = compound.clock()
    body = compound.client().get(f"/p/{token}/code").get_json()
    held = body["held"]
    assert len(held) == HELD_CODES
    assert held[0]["image"] == body["image"]
    starts = [parse_utc(code["show_from"]) for code in held]
    ends = [parse_utc(code["show_until"]) for code in held]
    assert starts[0] == now
    for index in range(1, HELD_CODES):
        assert starts[index] == ends[index - 1]  # one after the other, no gap
    assert ends[-1] - now == HORIZON == timedelta(seconds=HELD_CODES * SHOW_SECONDS)
    # Bounded: nothing the phone holds is accepted later than a few minutes past the horizon.
    last_valid = max(parse_utc(code["valid_until"]) for code in held)
    assert last_valid - now <= HORIZON + timedelta(minutes=2)
    texts = _codes(compound, token, held)
    assert len(set(texts)) == HELD_CODES
    for text, start, end in zip(texts, starts, ends, strict=True):
        assert start is not None
        assert end is not None
        for moment in (start, end):  # accepted on its whole turn on the page
            assert isinstance(_check(compound, text, moment), VerifiedPass)
        stale = _check(compound, text, end + timedelta(seconds=MAX_LIFETIME_SECONDS))
        assert getattr(stale, "code", None) is Code.SCREEN_CODE_STALE


def _codes(compound: Compound, token: str, held: list[dict[str, str]]) -> list[str]:
    import base64
    import io

    import zxingcpp
    from PIL import Image

    texts = []
    for code in held:
        data = code["image"].removeprefix("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
        [found] = zxingcpp.read_barcodes(image)
        assert found.text.startswith("CS1:")
        texts.append(found.text)
    return texts


def test_a_revoked_link_gets_no_new_code_at_once(compound: Compound) -> None:
    token = _rotating_link(compound)
    client = compound.client()
    assert client.get(f"/p/{token}/code").status_code == 200
    with transaction(compound.sessions) as session:
        household = session.get_one(Household, compound.residents[0].household_id)
        record = current_pass(session, household)
        assert record is not None
        revoke_resident_link(session, record, "office", compound.clock())
    refused = client.get(f"/p/{token}/code", headers={"Accept": "application/json"})
    assert refused.status_code == 404
    assert "held" not in refused.get_json()
    assert client.get(f"/p/{token}").status_code == 404


def test_with_rotation_the_page_has_no_static_pass_and_registers_its_service_worker(
    compound: Compound,
) -> None:
    token = _rotating_link(compound)
    html = compound.client().get(f"/p/{token}").get_data(as_text=True)
    assert compound.residents[0].pass_text not in html
    assert "data-static-src" not in html
    assert 'data-sw-url="/p/sw.js"' in html
    assert 'id="codes-ended"' in html
    assert "请连接网络刷新" in html


def test_the_service_worker_is_served_for_the_pass_pages_scope(compound: Compound) -> None:
    response = compound.client().get("/p/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/p/"
    assert "no-cache" in response.headers["Cache-Control"]
    assert b'addEventListener("fetch"' in response.data
