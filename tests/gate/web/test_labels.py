"""gate.web.labels: every audit action written in gate and every stored code has a label.

The action registry is checked against the source: every ``record_event(action=...)`` and
every ``_audit(..., "user.x")`` call in ``gate`` is read with ``ast`` (string constants, both
branches of ``a if c else b``, module constants, values of a module's dict), so a new action
without a label fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from flask import Flask

from gate.crossings.export import OTHER_REASONS
from gate.web import labels
from passes import Code

GATE = Path(labels.__file__).resolve().parent.parent


def _module_values(tree: ast.Module) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                values[target.id] = [node.value.value]
            elif isinstance(node.value, ast.Dict):
                values[target.id] = [
                    v.value for v in node.value.values if isinstance(v, ast.Constant)
                ]
    return values


def _strings(node: ast.expr | None, names: dict[str, list[str]]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, names) + _strings(node.orelse, names)
    if isinstance(node, ast.Name):
        return names.get(node.id, [])
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return names.get(node.value.id, [])
    return []


def written_actions() -> set[str]:
    found: set[str] = set()
    for path in GATE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _module_values(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id == "record_event":
                for keyword in node.keywords:
                    if keyword.arg == "action":
                        found.update(_strings(keyword.value, names))
            elif node.func.id == "_audit":
                # Each feature's own _audit helper takes the action among its positional
                # arguments (its place differs): every dotted string literal there is one.
                for argument in node.args:
                    found.update(_strings(argument, names))
    return {action for action in found if "." in action}


def test_every_action_written_in_gate_has_a_label() -> None:
    actions = written_actions()
    assert len(actions) >= 30  # the scan found the features' events
    assert sorted(actions - set(labels.ACTION_LABELS)) == []
    assert sorted(set(labels.ACTION_LABELS) - actions) == []  # no label for a dead action


def test_every_action_prefix_is_a_filter_choice() -> None:
    prefixes = {action.split(".", 1)[0] for action in labels.ACTION_LABELS}
    assert prefixes == set(labels.ACTION_GROUP_LABELS)


def _app() -> Flask:
    app = Flask(__name__)
    from gate.settings import Settings
    from gate.web.i18n import configure_i18n

    configure_i18n(app, Settings.from_env({"CHECKPOINT_ENV": "test"}))
    app.secret_key = "test"
    return app


def test_labels_in_english_name_every_code_in_words() -> None:
    app = _app()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        for code in [*Code, *OTHER_REASONS]:
            assert labels.reason_label(str(code)) not in ("", str(code)), code
        assert labels.reason_label("quota") == "Household outing quota used up"
        assert labels.direction_label("out") == "Exit"
        assert labels.action_label("pass.revoke") == "Pass revoked"
        assert labels.action_label("no.such_action") == "no.such_action"
        assert labels.reason_label(None) == ""


def test_chinese_reason_labels_are_the_gate_screens_words() -> None:
    app = _app()
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert labels.reason_label("quota") == "本户外出次数已用完"
        assert labels.reason_label(Code.FEVER) == "体温异常，请留观并联系医护人员"
        assert labels.direction_label("out") == "外出"
        assert labels.direction_label("in") == "进入"


def test_audit_details_read_as_key_value_text_not_json() -> None:
    app = _app()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        text = labels.audit_details('{"rows": 12, "masked": true, "file": null, "code": "quota"}')
        assert text == "Rows: 12; Names masked: yes; Reason: Household outing quota used up"
        assert labels.audit_details("{}") == ""
        assert labels.audit_details("not json") == "not json"
        assert "{" not in labels.audit_details('{"before": {"status": "normal"}}')
