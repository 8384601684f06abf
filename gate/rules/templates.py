"""Named rule templates an office starts from (三天一出 and its neighbours).

Each is a :class:`passes.RuleSet` in the community's zone; saving one goes through
``gate.community.operations.save_rules`` like any other rules.
"""

from __future__ import annotations

import dataclasses

from passes import RuleSet
from passes.rules import Quota, WindowKind


def _every(days: int) -> Quota:
    return Quota(exits=1, window=WindowKind.CALENDAR_DAYS, length=days)


RULE_TEMPLATES: dict[str, tuple[str, RuleSet]] = {
    "three-days": ("三天一出", RuleSet(quota=_every(3))),
    "two-days": ("两天一出", RuleSet(quota=_every(2))),
    "daily": ("每天一次", RuleSet(quota=_every(1))),
    "closed": ("全封闭（仅豁免户可外出）", RuleSet(quota=None, closed=True)),
    "unlimited": ("不限（只登记）", RuleSet(quota=None, max_out_at_once=99)),
}
"""Template name -> (its Chinese label, the rules)."""


def template_rules(name: str, timezone: str) -> RuleSet:
    """The rules of template ``name`` in ``timezone``; KeyError for an unknown name."""
    return dataclasses.replace(RULE_TEMPLATES[name][1], timezone=timezone)


DEFAULT_TEMPLATE = "three-days"
"""The template an office starts from (三天一出)."""


def matching_template(rules: RuleSet) -> str | None:
    """The name of the template ``rules`` equal (version and time zone aside), else None."""
    for name, (_label, template) in RULE_TEMPLATES.items():
        candidate = dataclasses.replace(template, version=rules.version, timezone=rules.timezone)
        if candidate == rules:
            return name
    return None
