"""Reading rules proposed in the office's editor (JSON text) into a :class:`passes.RuleSet`."""

from __future__ import annotations

import json

from passes import RuleSet, rules_from_json

#: What a proposal without a ``version`` is parsed as: saving assigns the stored version
#: (``gate.community.operations.save_rules``) and a dry run does not depend on it.
UNVERSIONED = 1


def parse_proposed_rules(text: str) -> RuleSet:
    """The rules in ``text``; a missing ``version`` is fine (it is assigned on save).

    Raises :class:`passes.RuleSetError` naming the offending field (``(json)`` for text
    that is not JSON). Touches no database: entry points parse before taking any lock.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return rules_from_json(text)  # raises RuleSetError naming "(json)"
    if isinstance(data, dict) and "version" not in data:
        data["version"] = UNVERSIONED
    return rules_from_json(json.dumps(data))


def editable_json(rules: RuleSet) -> str:
    """``rules`` as the editor shows them: indented JSON, Chinese kept readable."""
    return json.dumps(rules.to_dict(), ensure_ascii=False, indent=2)
