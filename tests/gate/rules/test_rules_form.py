"""The rules page as a form (issue #12): every rule a field filled from the rules in force, a
template picker that fills it, the JSON as an advanced view that still saves, a dry run from
the form that writes nothing, and field-named refusals; a Chinese page shows no JSON names."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.community.context import current_rules
from gate.community.models import Community
from gate.community.models import RuleSet as RuleSetRecord
from gate.db import transaction
from gate.rules.templates import RULE_TEMPLATES, matching_template
from passes import CountKind, Direction, ExitHours, Quota, RuleSet, TemperatureRules
from passes.rules import WindowKind

PASSWORD = "form-rules-pass-42"
IN_FORCE = RuleSet(
    version=1,
    quota=Quota(exits=2, window=WindowKind.ROLLING_HOURS, length=48),
    max_out_at_once=2,
    exit_hours=ExitHours(time(6, 30), time(21)),
    max_outside_minutes=180,
    temperature=TemperatureRules(required=False, fever_threshold_tenths=375),
)


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


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    compound = build_compound(db_url, tmp_path, households=2, rules=IN_FORCE)
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


def office(compound: Compound, language: str = "zh-CN") -> FlaskClient:
    client: FlaskClient = compound.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    answer = client.post("/login", data={"username": "office1", "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def in_force(compound: Compound) -> RuleSet:
    with transaction(compound.sessions, read_only=True) as session:
        community = session.get(Community, compound.community_id)
        assert community is not None
        return current_rules(session, community)


def versions(compound: Compound) -> list[int]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(
            session.scalars(
                select(RuleSetRecord.version)
                .where(RuleSetRecord.community_id == compound.community_id)
                .order_by(RuleSetRecord.version)
            )
        )


def rule_events(compound: Compound) -> list[str]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith("rules."))
                .where(AuditEvent.community_id == compound.community_id)
            )
        )


FORM = {
    "quota_kind": "calendar_days",
    "quota_exits": "1",
    "quota_length": "2",
    "max_out_at_once": "1",
    "exit_start": "07:00",
    "exit_end": "19:30",
    "max_outside_minutes": "240",
    "fever_threshold": "37.3",
    "temperature_required": "y",
    "plausible_min_tenths": "340",
    "plausible_max_tenths": "430",
    "reason": "两天一出，限时4小时",
    "days": "7",
}
FORM_RULES = RuleSet(
    quota=Quota(exits=1, window=WindowKind.CALENDAR_DAYS, length=2),
    max_out_at_once=1,
    exit_hours=ExitHours(time(7), time(19, 30)),
    max_outside_minutes=240,
    temperature=TemperatureRules(required=True, fever_threshold_tenths=373),
)


def test_the_page_shows_the_rules_in_force_in_the_form(compound: Compound) -> None:
    html = office(compound).get("/rules").get_data(as_text=True)
    shown = fields(html)
    assert shown["quota_kind"] == "rolling_hours"
    assert shown["quota_exits"] == "2"
    assert shown["quota_length"] == "48"
    assert shown["max_out_at_once"] == "2"
    assert shown["exit_start"] == "06:30"
    assert shown["exit_end"] == "21:00"
    assert shown["max_outside_minutes"] == "180"
    assert shown["fever_threshold"] == "37.5"
    assert "temperature_required" not in shown  # not required: unchecked
    assert '"max_outside_minutes": 180' in shown["rules_json"]  # the advanced view
    assert '<details id="rules-advanced">' in html  # closed until asked for


def test_saving_the_form_stores_the_same_rules_with_one_audit_event(compound: Compound) -> None:
    client = office(compound)
    answer = client.post("/rules", data={**FORM, "action": "save"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert versions(compound) == [1, 2]
    assert in_force(compound) == dataclasses.replace(FORM_RULES, version=2)
    assert rule_events(compound) == ["rules.save"]
    # the page now shows them back, the overdue alert included
    shown = fields(client.get("/rules").get_data(as_text=True))
    assert (shown["quota_length"], shown["max_outside_minutes"]) == ("2", "240")


def test_blank_exit_hours_and_no_quota_and_no_overdue_alert(compound: Compound) -> None:
    loose = {
        **FORM,
        "quota_kind": "none",
        "quota_exits": "",
        "quota_length": "",
        "exit_start": "",
        "exit_end": "",
        "max_outside_minutes": "",
    }
    loose.pop("temperature_required")
    assert office(compound).post("/rules", data={**loose, "action": "save"}).status_code == 302
    saved = in_force(compound)
    assert (saved.quota, saved.exit_hours, saved.max_outside_minutes) == (None, None, None)
    assert saved.temperature.required is False


def test_a_template_fills_the_form_and_saves_nothing(compound: Compound) -> None:
    client = office(compound)
    html = client.get("/rules", query_string={"template": "two-days"}).get_data(as_text=True)
    shown = fields(html)
    assert shown["template"] == "two-days"
    assert (shown["quota_kind"], shown["quota_exits"], shown["quota_length"]) == (
        "calendar_days",
        "1",
        "2",
    )
    assert shown["max_outside_minutes"] == ""  # the template has no overdue alert
    assert 'id="template-filled"' in html
    assert "两天一出" in html
    assert versions(compound) == [1]
    # the template's fields, posted back as they are, save the template
    posted = {k: v for k, v in shown.items() if k != "template"}
    assert client.post("/rules", data={**posted, "action": "save"}).status_code == 302
    assert matching_template(in_force(compound)) == "two-days"
    # every template fills a form that saves to exactly that template
    for name in RULE_TEMPLATES:
        filled = fields(client.get(f"/rules?template={name}").get_data(as_text=True))
        filled.pop("template")
        assert client.post("/rules", data={**filled, "action": "save"}).status_code == 302
        assert matching_template(in_force(compound)) == name, name


def test_the_page_picks_the_default_template_for_rules_that_match_none(
    compound: Compound,
) -> None:
    shown = fields(office(compound).get("/rules?template=nonsense").get_data(as_text=True))
    assert shown["template"] == "three-days"
    assert shown["quota_length"] == "48"  # an unknown template shows the rules in force


def test_the_advanced_json_still_saves_and_wins_over_the_fields(compound: Compound) -> None:
    client = office(compound)
    json_rules = dataclasses.replace(FORM_RULES, max_outside_minutes=90)
    answer = client.post(
        "/rules",
        data={**FORM, "rules_json": json_rules.to_json(), "action": "save_json"},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert in_force(compound).max_outside_minutes == 90
    assert rule_events(compound) == ["rules.save"]
    # a bad JSON is refused under the JSON, naming its field, with the advanced view open
    bad = client.post(
        "/rules", data={**FORM, "rules_json": '{"quota": {"exits": 0}}', "action": "save_json"}
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert '<details id="rules-advanced" open>' in html
    assert "quota.exits" in html
    assert versions(compound) == [1, 2]


def test_a_dry_run_from_the_form_is_read_only_and_in_chinese(compound: Compound) -> None:
    api = compound.client()
    resident = compound.residents[0]
    hour = compound.clock().astimezone(RuleSet().zone).hour
    assert compound.scan(api, resident.pass_text, Direction.OUT).status_code < 300
    compound.clock.advance(hours=1)
    # exits allowed only in an hour that is not the scan's: the exit is refused
    closed = {
        **FORM,
        "exit_start": f"{(hour + 3) % 24:02d}:00",
        "exit_end": f"{(hour + 4) % 24:02d}:00",
    }
    answer = office(compound).post("/rules/dryrun", data={**closed, "action": "dryrun"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[:2000]
    assert 'id="dry-run"' in html
    assert '<td class="num" data-code="outside_hours">1</td>' in html
    assert "不在允许外出时段" in html
    assert fields(html)["exit_start"] == closed["exit_start"]  # the form keeps the proposal
    assert versions(compound) == [1]
    assert rule_events(compound) == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"quota_exits": "0"}, "quota_exits", "应为 1 到 100 之间的整数"),
        ({"quota_length": ""}, "quota_length", "必须填写"),
        ({"max_out_at_once": "100"}, "max_out_at_once", "应为 1 到 99 之间的整数"),
        ({"exit_end": ""}, "exit_end", None),
        ({"exit_start": "08:00", "exit_end": "08:00"}, "exit_start", None),
        ({"fever_threshold": "43.5"}, "fever_threshold", "43.0"),
        ({"fever_threshold": "37.35"}, "fever_threshold", None),
        ({"max_outside_minutes": "0"}, "max_outside_minutes", "之间的整数"),
    ],
)
def test_a_refused_field_is_named_under_itself_and_nothing_is_saved(
    compound: Compound, change: dict[str, str], field: str, words: str | None
) -> None:
    answer = office(compound).post("/rules", data={**FORM, **change, "action": "save"})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    block = re.search(
        rf'<div class="field field-invalid">\s*<label for="{field}".*?</div>', html, re.S
    )
    assert block is not None, html[:3000]
    assert 'class="field-error"' in block.group(0)
    if words:
        assert words in block.group(0)
    assert "quota.exits" not in html
    assert "_tenths" not in visible(html)
    assert versions(compound) == [1]
    assert rule_events(compound) == []


JSON_NAMES = re.compile(
    r"\b(quota|exits|window|length|calendar_days|rolling_hours|max_out_at_once|exit_hours"
    r"|max_outside_minutes|temperature|required|fever_threshold_tenths|plausible\w*|null)\b"
)


class Visible(HTMLParser):
    """Text a reader sees, less the advanced JSON (textarea) and verbatim codes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in {"script", "style", "textarea", "code"} or "mono" in classes:
            self._skip.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


def test_the_chinese_page_names_no_json_field(compound: Compound) -> None:
    client = office(compound, "zh-CN")
    pages = [
        client.get("/rules").get_data(as_text=True),
        client.get("/rules?template=daily").get_data(as_text=True),
        client.post("/rules/dryrun", data={**FORM, "action": "dryrun"}).get_data(as_text=True),
        client.post("/rules", data={**FORM, "quota_exits": "0"}).get_data(as_text=True),
    ]
    for html in pages:
        text = visible(html)
        assert "外出次数" in text
        assert JSON_NAMES.findall(text) == [], JSON_NAMES.findall(text)


def test_full_lockdown_is_a_tick_box_saved_as_the_closed_rule_and_shown_in_force(
    compound: Compound,
) -> None:
    client = office(compound)
    assert 'id="closed"' in client.get("/rules").get_data(as_text=True)
    answer = client.post("/rules", data={**FORM, "closed": "y", "action": "save"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert in_force(compound) == dataclasses.replace(FORM_RULES, version=2, closed=True)
    page = client.get("/rules").get_data(as_text=True)
    assert 'id="rules-closed-now"' in page
    assert "暂停外出（豁免户除外）" in page


def test_counting_people_is_a_choice_saved_as_the_count_rule_and_filled_back(
    compound: Compound,
) -> None:
    client = office(compound)
    answer = client.post("/rules", data={**FORM, "count": "people", "action": "save"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert in_force(compound) == dataclasses.replace(FORM_RULES, version=2, count=CountKind.PEOPLE)
    assert fields(client.get("/rules").get_data(as_text=True))["count"] == "people"
    refused = client.post("/rules", data={**FORM, "count": "persons", "action": "save"})
    assert refused.status_code == 400
    assert in_force(compound).version == 2
