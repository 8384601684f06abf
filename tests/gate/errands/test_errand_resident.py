"""The household's errands on its phone pass page, on SQLite and PostgreSQL: the section and
its form while in quarantine, asking (JSON and plain form), withdrawing, the JSON list, and
no form for a household that is not in quarantine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound
from errand_site import ZH, errand_compound, errands, events
from sqlalchemy import Engine

from gate.db import transaction
from gate.errands.models import ErrandStatus
from gate.households.models import Household
from gate.issuing.models import IssuedPass
from gate.issuing.resident_links import issue_resident_link

JSON = {"Accept": "application/json", **ZH}


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    with errand_compound(db_url, tmp_path) as built:
        yield built


def _link(compound: Compound, resident: int) -> str:
    from sqlalchemy import select

    with transaction(compound.sessions) as session:
        household_id = compound.residents[resident].household_id
        record = session.scalars(
            select(IssuedPass).where(IssuedPass.household_id == household_id)
        ).one()
        return issue_resident_link(session, record, actor="test", now=compound.clock())


def test_a_quarantined_household_asks_from_its_pass_page_and_sees_the_status(
    compound: Compound,
) -> None:
    token = _link(compound, 0)
    browser = compound.app.test_client()
    page = browser.get(f"/p/{token}", headers=ZH)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="errand-ask"' in html
    assert "hidden>" not in html.split('id="errand-ask"')[1].split("\n")[0]
    asked = browser.post(
        f"/p/{token}/errands",
        data={"kind": "groceries", "text": "两天的蔬菜", "items": "青菜，鸡蛋"},
        headers=JSON,
    )
    assert asked.status_code == 201, asked.get_json()
    (errand,) = errands(compound)
    assert (errand.source.value, errand.created_by, errand.items) == (
        "resident",
        "住户",
        "青菜\n鸡蛋",
    )
    listed = browser.get(f"/p/{token}/errands", headers=JSON).get_json()
    assert listed["may_ask"] is True
    assert [(e["id"], e["status"], e["may_cancel"]) for e in listed["errands"]] == [
        (errand.id, "new", True)
    ]
    assert listed["errands"][0]["status_label"] != "new" or listed["errands"][0]["kind_label"]
    assert "两天的蔬菜" in browser.get(f"/p/{token}", headers=ZH).get_data(as_text=True)

    withdrawn = browser.post(f"/p/{token}/errands/{errand.id}/cancel", headers=JSON)
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert errands(compound)[0].status is ErrandStatus.CANCELLED
    again = browser.post(f"/p/{token}/errands/{errand.id}/cancel", headers=JSON)
    assert again.status_code == 409
    assert again.get_json()["error"]["message"]
    assert [action for action, _ in events(compound)] == ["errand.create", "errand.cancel"]


def test_a_plain_form_post_redirects_back_to_the_page(compound: Compound) -> None:
    token = _link(compound, 0)
    browser = compound.app.test_client()
    answer = browser.post(f"/p/{token}/errands", data={"kind": "rubbish"}, headers=ZH)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/p/{token}#errands")
    assert len(errands(compound)) == 1
    refused = browser.post(f"/p/{token}/errands", data={"kind": "groceries"}, headers=ZH)
    assert refused.status_code == 409
    assert 'id="errand-refused"' in refused.get_data(as_text=True)
    assert len(errands(compound)) == 1


def test_a_household_not_in_quarantine_sees_no_form_and_is_refused(compound: Compound) -> None:
    token = _link(compound, 1)
    browser = compound.app.test_client()
    html = browser.get(f"/p/{token}", headers=ZH).get_data(as_text=True)
    assert 'id="errands" class="resident-errands" hidden' in html
    listed = browser.get(f"/p/{token}/errands", headers=JSON).get_json()
    assert (listed["may_ask"], listed["errands"]) == (False, [])
    refused = browser.post(
        f"/p/{token}/errands", data={"kind": "groceries", "text": "买菜"}, headers=JSON
    )
    assert refused.status_code == 409
    assert errands(compound) == []


def test_another_households_errand_cannot_be_withdrawn_and_a_bad_link_is_404(
    compound: Compound,
) -> None:
    own, other = _link(compound, 0), _link(compound, 1)
    browser = compound.app.test_client()
    assert (
        browser.post(f"/p/{own}/errands", data={"kind": "rubbish"}, headers=JSON).status_code == 201
    )
    (errand,) = errands(compound)
    stolen = browser.post(f"/p/{other}/errands/{errand.id}/cancel", headers=JSON)
    assert stolen.status_code == 409
    assert errands(compound)[0].status is ErrandStatus.NEW
    assert browser.get("/p/" + "A" * 43 + "/errands", headers=JSON).status_code == 404
    with transaction(compound.sessions, read_only=True) as session:
        assert session.get(Household, compound.residents[0].household_id) is not None


def test_the_phone_posts_need_the_sessions_csrf_token_which_the_json_hands_out(
    compound: Compound,
) -> None:
    compound.app.config["WTF_CSRF_ENABLED"] = True
    token = _link(compound, 0)
    browser = compound.app.test_client()
    form = {"kind": "rubbish"}
    assert browser.post(f"/p/{token}/errands", data=form, headers=JSON).status_code == 400
    fresh = browser.get(f"/p/{token}/errands", headers=JSON).get_json()["csrf_token"]
    asked = browser.post(f"/p/{token}/errands", data=form, headers={**JSON, "X-CSRFToken": fresh})
    assert asked.status_code == 201, asked.get_json()
    page = browser.get(f"/p/{token}", headers=ZH).get_data(as_text=True)
    assert 'name="csrf_token"' in page  # the plain form posts with the page's token
    assert len(errands(compound)) == 1
