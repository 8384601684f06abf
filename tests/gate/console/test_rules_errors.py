"""How the rules page words a refused rule set: every ``RuleSetError`` problem code of the
core has a message naming the field, in Chinese on Chinese pages (``passes`` has no gettext)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import app_settings
from flask import Flask

from gate.app import create_app
from gate.console.rules import RULE_MESSAGES, _rules_error
from passes import RuleSetError, rules_from_json
from passes.rules import RULE_PROBLEMS


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(settings=app_settings(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path))
    yield app
    app.extensions["checkpoint"].engine.dispose()


def _refusal(text: str) -> RuleSetError:
    with pytest.raises(RuleSetError) as info:
        rules_from_json(text)
    return info.value


def test_every_problem_code_of_the_core_has_a_message() -> None:
    assert set(RULE_MESSAGES) == RULE_PROBLEMS


@pytest.mark.parametrize(
    ("text", "chinese"),
    [
        ('{"version": 1, "quota": {"exits": 0}}', "字段 quota.exits 应为 1 到 100 之间的整数。"),
        ('{"version": 1,\n "quota": }', "文本不是有效的 JSON：请检查第 2 行第 11 列。"),
        ('{"version": 1, "timezone": "Mars/X"}', "字段 timezone：“Mars/X”不是已知的时区"),
        ('{"version": 1, "colour": "red"}', "字段 colour 不是规则中的字段"),
        ('{"quota": null}', "字段 version 必须填写。"),
        ('{"version": 1, "quota": {"window": "weeks"}}', "只能是以下之一：calendar_days"),
        ('{"version": 1, "exit_hours": {"start": "6", "end": "20:00"}}', "应为 06:00 这样的时间"),
    ],
)
def test_a_refused_rule_set_is_worded_in_chinese_on_chinese_pages(
    app: Flask, text: str, chinese: str
) -> None:
    exc = _refusal(text)
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        shown = _rules_error(exc)
    assert chinese in shown
    assert not re.search(r"must|valid|known", shown)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = _rules_error(exc)
    assert english == RULE_MESSAGES[exc.problem] % {"field": exc.field, **exc.params}
