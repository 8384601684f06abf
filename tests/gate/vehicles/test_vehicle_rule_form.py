"""The rules form's vehicle section: the rule for cars without a pass is shown in its
fields, saved from them (local prefixes, local and outside choices), kept when other fields
are saved, refused with the field named when a prefix is no province, and shown in force."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.community.context import current_rules
from gate.community.models import Community
from gate.db import transaction
from passes import RuleSet
from passes.rules import LocalPlates, OutsidePlates, VehicleRules

IN_FORCE = RuleSet(version=1, timezone="Asia/Shanghai")


PASSWORD = "form-rules-pass-42"


class Fields(HTMLParser):
    """Form values as a browser would post them: inputs, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name") or ""
        if tag == "input" and name and a.get("type") not in {"submit", "checkbox"}:
            self.values[name] = a.get("value") or ""
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.values[name] = a.get("value") or "y"
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def fields(html: str) -> dict[str, str]:
    parser = Fields()
    parser.feed(html)
    return parser.values


def office(compound: Compound) -> FlaskClient:
    client: FlaskClient = compound.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    answer = client.post("/login", data={"username": "office1", "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def in_force(compound: Compound) -> RuleSet:
    with transaction(compound.sessions, read_only=True) as session:
        community = session.get(Community, compound.community_id)
        assert community is not None
        return current_rules(session, community)


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    compound = build_compound(db_url, tmp_path, households=1, rules=IN_FORCE)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="office1",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
    compound.app.config["WTF_CSRF_ENABLED"] = False
    try:
        yield compound
    finally:
        compound.dispose()


def _form(client: object, **changes: str) -> dict[str, str]:
    values = fields(client.get("/rules").get_data(as_text=True))  # type: ignore[attr-defined]
    values = {k: v for k, v in values.items() if k not in ("rules_json", "csrf_token")}
    values.update(changes)
    values["reason"] = "车辆管理"
    values["action"] = "save"
    return values


def test_the_vehicle_rule_is_saved_from_its_fields_and_kept(compound: Compound) -> None:
    client = office(compound)
    answer = client.post(
        "/rules",
        data=_form(
            client,
            vehicles_on="y",
            vehicle_prefixes="鲁E，鲁B",
            vehicle_local="allow",
            vehicle_outside="refuse",
        ),
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    expected = VehicleRules(("鲁E", "鲁B"), LocalPlates.ALLOW, OutsidePlates.REFUSE)
    assert in_force(compound).vehicles == expected
    page = client.get("/rules").get_data(as_text=True)
    assert 'id="rules-vehicles-now"' in page
    shown = fields(page)
    assert shown["vehicle_prefixes"] == "鲁E 鲁B"
    # Saving another field keeps the vehicle rule the fields show.
    again = client.post("/rules", data=_form(client, max_out_at_once="2"))
    assert again.status_code == 302
    assert in_force(compound).vehicles == expected
    assert in_force(compound).max_out_at_once == 2


def test_a_bad_prefix_is_refused_on_its_field(compound: Compound) -> None:
    client = office(compound)
    answer = client.post("/rules", data=_form(client, vehicles_on="y", vehicle_prefixes="XX"))
    assert answer.status_code in (400, 422)
    assert in_force(compound).vehicles is None
