"""The resident's personal link (/p/<token>) on SQLite and PostgreSQL: issue, show, revoke,
re-issue; no personal data beyond the masked label; cacheable page; rotating screen codes."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import zxingcpp
from api_helpers import Compound, build_compound, local, verdict_of
from PIL import Image
from sqlalchemy import Engine, select

from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.db import transaction
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.issuing.cards import local_validity
from gate.issuing.models import IssuedPass
from gate.issuing.operations import current_pass, issue_pass, revoke_pass
from gate.issuing.resident_links import (
    ResidentLinkError,
    hash_link_token,
    issue_resident_link,
    revoke_resident_link,
)
from gate.issuing.screen_codes import check_presented
from passes import (
    Code,
    Direction,
    HouseholdStatus,
    VerifiedPass,
    VerifiedScreenCode,
    decide,
    parse_utc,
    verify_screen_code,
)
from passes.screen_code import MAX_LIFETIME_SECONDS

OUT, IN = Direction.OUT, Direction.IN


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    """The scan API's compound (3 households with passes and a resident link each on demand)."""
    built = build_compound(db_url, tmp_path, households=3)
    try:
        yield built
    finally:
        built.dispose()


def _link(compound: Compound, index: int = 0) -> str:
    with transaction(compound.sessions) as session:
        household = session.get_one(Household, compound.residents[index].household_id)
        record = current_pass(session, household)
        assert record is not None
        return issue_resident_link(session, record, "office", compound.clock())


def _qr_texts(html: str) -> list[str]:
    texts = []
    for data in re.findall(r'\ssrc="data:image/png;base64,([A-Za-z0-9+/=]+)"', html):
        image = Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
        texts += [found.text for found in zxingcpp.read_barcodes(image)]
    return texts


def test_the_link_page_shows_the_pass_qr_label_status_and_validity(compound: Compound) -> None:
    resident = compound.residents[0]
    response = compound.client().get(f"/p/{_link(compound)}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _qr_texts(html) == [resident.pass_text]
    masked = "张" + "*" * (len(resident.member_names[0]) - 1)
    assert f"{resident.code} {masked}" in html
    assert "status-home" in html
    assert "2026-11-22" in html  # issued (one hour before the clock's start), local date
    # Valid 30 days: the last day valid all day, as the printed card says (not 12-22, the
    # day it ends in the afternoon).
    with transaction(compound.sessions, read_only=True) as session:
        record = current_pass(session, session.get_one(Household, resident.household_id))
        assert record is not None
        card = local_validity(record, "Asia/Shanghai")
    assert [day.isoformat() for day in card] == ["2026-11-22", "2026-12-21"]
    assert "2026-12-21" in html
    assert "2026-12-22" not in html


def test_the_page_holds_no_personal_data_beyond_the_masked_label(compound: Compound) -> None:
    resident = compound.residents[0]
    html = compound.client().get(f"/p/{_link(compound)}").get_data(as_text=True)
    for needle in (
        *resident.member_names,
        *resident.member_phones,
        *resident.id_numbers,
        resident.phone,
        resident.unit,
        resident.room,
    ):
        assert needle not in html
    assert not re.search(r"<script>|\son[a-z]+=|\sstyle=", html)  # CSP: no inline code
    assert not re.search(r'(src|href)="https?://', html)  # nothing fetched from elsewhere


def test_the_page_is_privately_cacheable_and_the_status_json_is_not(compound: Compound) -> None:
    token = _link(compound)
    client = compound.client()
    page = client.get(f"/p/{token}")
    status = client.get(f"/p/{token}/status")
    assert "private" in page.headers["Cache-Control"]
    assert "max-age=86400" in page.headers["Cache-Control"]
    assert "no-store" not in page.headers["Cache-Control"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert status.status_code == 200
    assert "no-store" in status.headers["Cache-Control"]
    assert status.get_json()["status_kind"] == "home"


def test_status_follows_crossings_and_names_the_next_allowed_outing(compound: Compound) -> None:
    token = _link(compound)
    client = compound.client()
    verdict_of(compound.scan(client, compound.residents[0].pass_text, OUT))
    out = client.get(f"/p/{token}/status").get_json()
    assert out["status_kind"] == "out"
    assert "09:00" in out["status"]
    assert out["next_exit"].startswith("11-25 00:00")  # one outing per three calendar days
    compound.clock.advance(hours=2)
    verdict_of(compound.scan(client, compound.residents[0].pass_text, IN))
    home = client.get(f"/p/{token}/status").get_json()
    assert home["status_kind"] == "home"
    assert home["next_exit"] == "11-25 00:00"


def test_a_quarantined_household_sees_its_end_date(compound: Compound) -> None:
    token = _link(compound)
    with transaction(compound.sessions) as session:
        household = session.get_one(Household, compound.residents[0].household_id)
        household.status = HouseholdStatus.QUARANTINED
        household.quarantine_until = local(2026, 12, 1)  # "through 11-30" ends at 12-01 00:00
    compound.services.contexts.invalidate()
    html = compound.client().get(f"/p/{token}").get_data(as_text=True)
    assert "status-quarantined" in html
    assert "居家隔离至 11-30" in html


def test_revoking_the_link_gives_a_friendly_404_and_keeps_the_pass(compound: Compound) -> None:
    token = _link(compound)
    with transaction(compound.sessions) as session:
        record = session.scalar(
            select(IssuedPass).where(IssuedPass.resident_link_token_hash == hash_link_token(token))
        )
        assert record is not None
        revoke_resident_link(session, record, "office", compound.clock(), "phone lost")
    client = compound.client()
    gone = client.get(f"/p/{token}")
    assert gone.status_code == 404
    assert "resident-missing" in gone.get_data(as_text=True)
    assert client.get(f"/p/{token}/status").status_code == 404
    verdict = verdict_of(compound.scan(client, compound.residents[0].pass_text, OUT))
    assert verdict["allowed"]


def test_reissuing_the_link_replaces_the_old_one_and_is_audited(compound: Compound) -> None:
    first = _link(compound)
    second = _link(compound)
    client = compound.client()
    assert first != second
    assert client.get(f"/p/{first}").status_code == 404
    assert client.get(f"/p/{second}").status_code == 200
    with transaction(compound.sessions, read_only=True) as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("resident_link.%"))
            .order_by(AuditEvent.id)
        ).all()
        stored = session.scalars(select(IssuedPass.resident_link_token_hash)).all()
    assert actions == ["resident_link.issue", "resident_link.reissue"]
    assert first not in stored
    assert second not in stored  # only the hash is stored
    assert hash_link_token(second) in stored


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 500, "%2e%2e"])
def test_unknown_or_malformed_tokens_are_404(compound: Compound, token: str) -> None:
    assert compound.client().get(f"/p/{token}").status_code == 404


def test_a_revoked_or_replaced_pass_shows_no_code(compound: Compound) -> None:
    token = _link(compound)
    with transaction(compound.sessions) as session:
        household = session.get_one(Household, compound.residents[0].household_id)
        record = current_pass(session, household)
        assert record is not None
        revoke_pass(session, record, actor="office", reason="lost", now=compound.clock())
        with pytest.raises(ResidentLinkError):
            issue_resident_link(session, record, "office", compound.clock())
    response = compound.client().get(f"/p/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "data:image/png" not in html
    assert "resident-warning" in html
    assert compound.client().get(f"/p/{token}/status").get_json()["active"] is False


def _enable_rotating_codes(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        session.get_one(Community, compound.community_id).rotating_codes_enabled = True


def test_screen_codes_are_served_only_where_the_community_enabled_them(
    compound: Compound,
) -> None:
    token = _link(compound)
    client = compound.client()
    assert client.get(f"/p/{token}/code").status_code == 404
    assert 'data-rotating="0"' in client.get(f"/p/{token}").get_data(as_text=True)
    _enable_rotating_codes(compound)
    assert 'data-rotating="1"' in client.get(f"/p/{token}").get_data(as_text=True)
    answer = client.get(f"/p/{token}/code")
    body = answer.get_json()
    assert answer.status_code == 200
    assert "no-store" in answer.headers["Cache-Control"]
    valid_until = parse_utc(body["valid_until"])
    assert valid_until is not None
    assert (
        compound.clock() < valid_until <= compound.clock() + timedelta(seconds=MAX_LIFETIME_SECONDS)
    )
    assert _qr_texts(f' src="{body["image"]}"') == [body["code"]]
    with transaction(compound.sessions, read_only=True) as session:
        context = compound.services.contexts.get(session, compound.community_id)
    check = verify_screen_code(body["code"], context.keys, compound.clock())
    assert isinstance(check, VerifiedScreenCode)


def test_a_screen_code_decides_like_the_card_and_dies_with_a_reissue(compound: Compound) -> None:
    token = _link(compound)
    _enable_rotating_codes(compound)
    code = compound.client().get(f"/p/{token}/code").get_json()["code"]
    now = compound.clock()
    with transaction(compound.sessions) as session:
        context = compound.services.contexts.get(session, compound.community_id)
        household = session.get_one(Household, compound.residents[0].household_id)
        check = check_presented(session, context=context, text=code, now=now)
        assert isinstance(check, VerifiedPass)
        assert check.fields.household_id == household.id
        late = check_presented(
            session, context=context, text=code, now=now + timedelta(seconds=MAX_LIFETIME_SECONDS)
        )
        assert getattr(late, "code", None) is Code.SCREEN_CODE_STALE
        issue_pass(session, household, actor="office", now=now, reissue=True)
        verdict = decide(
            check_presented(session, context=context, text=code, now=now),
            keys=context.keys,
            community_id=context.community_id,
            household=household_state(household),
            revoked_pass_ids=frozenset(),
            rules=context.rules,
            direction=OUT,
            temperature=365,
            now=now,
        )
    assert verdict.code is Code.SUPERSEDED


def test_with_rotating_codes_the_page_shows_only_a_screen_code_never_the_static_pass(
    compound: Compound,
) -> None:
    resident = compound.residents[0]
    token = _link(compound)
    _enable_rotating_codes(compound)
    html = compound.client().get(f"/p/{token}").get_data(as_text=True)
    [shown] = _qr_texts(html)
    assert shown.startswith("CS1:")
    assert resident.pass_text not in html
    assert resident.pass_text not in _qr_texts(html)
    assert "动态码" in html or "Live code" in html
    with transaction(compound.sessions, read_only=True) as session:
        context = compound.services.contexts.get(session, compound.community_id)
        check = check_presented(session, context=context, text=shown, now=compound.clock())
    assert isinstance(check, VerifiedPass)
    assert check.fields.household_id == resident.household_id
