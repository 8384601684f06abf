"""``/rules``: the rules in force, an editor (JSON) with field-named errors, a dry run over
the last days' crossings before saving, and the version history. Every save is a new version.

Three routes, one page: ``GET /rules`` shows it; ``POST /rules/dryrun`` replays the proposed
rules and is read-only (it can take seconds and must never hold SQLite's write lock, which
would stall every scan); ``POST /rules`` saves and is the only one that writes.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gate.community.context import current_rules
from gate.community.operations import save_rules
from gate.community.queries import rule_versions
from gate.rules.dryrun import DEFAULT_DAYS, DryRunResult, dry_run
from gate.rules.proposal import editable_json, parse_proposed_rules
from gate.services import services
from gate.web.auth import OFFICE_ROLES, require_role
from gate.web.unit_of_work import request_unit, writes
from passes import RuleSet, RuleSetError, rules_from_json

from . import console
from .common import actor, community, db_session, lang, now
from .forms import RulesForm

HISTORY_LIMIT = 50


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the message catalogue (translated with gettext below)."""
    return msgid


RULE_MESSAGES: dict[str, str] = {
    "not_json": N_("The text is not valid JSON: look at line %(line)d, column %(column)d."),
    "not_object": N_("Field %(field)s must be an object in braces: {...}."),
    "unknown_field": N_("Field %(field)s is not a rule field: check its spelling."),
    "required": N_("Field %(field)s is required."),
    "not_text": N_("Field %(field)s must be text in double quotes."),
    "not_boolean": N_("Field %(field)s must be true or false."),
    "out_of_range": N_("Field %(field)s must be a whole number from %(low)d to %(high)d."),
    "bad_choice": N_("Field %(field)s must be one of: %(choices)s."),
    "unknown_timezone": N_(
        "Field %(field)s: %(value)s is not a known time zone (write it like Asia/Shanghai)."
    ),
    "bad_clock": N_("Field %(field)s must be a time like 06:00."),
    "start_equals_end": N_(
        "Field %(field)s: the start equals the end; use null for exits at any time."
    ),
    "fever_outside_plausible": N_(
        "Field %(field)s must be above plausible_min_tenths and at most plausible_max_tenths."
    ),
}
"""The message id of each :class:`~passes.RuleSetError` problem code (``passes`` stays
free of gettext: the page words the code)."""


@console.get("/rules", endpoint="rules")
@require_role(*OFFICE_ROLES)
def rules() -> Any:
    """The rules in force, the editor and the versions."""
    form = RulesForm()
    form.rules_json.data = editable_json(current_rules(db_session(), community()))
    form.days.data = DEFAULT_DAYS
    return _page(form)


@console.post("/rules/dryrun", endpoint="rules_dryrun")
@require_role(*OFFICE_ROLES)
def rules_dryrun() -> Any:
    """Replay the proposed rules over the last days' crossings; saves nothing (read-only)."""
    form = RulesForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    proposed, error_field = _proposed(form)
    if proposed is None:
        return _page(form, status=400, error_field=error_field)
    result = dry_run(
        db_session(), community().id, proposed, now=now(), days=form.days.data or DEFAULT_DAYS
    )
    return _page(form, result=result)


@console.post("/rules", endpoint="rules_save")
@require_role(*OFFICE_ROLES)
@writes
def rules_save() -> Any:
    """Save the proposed rules as the community's next version."""
    if request.form.get("action") == "dryrun":
        # A browser that ignored the dry-run button's formaction: never save by mistake.
        return redirect(url_for("console.rules_dryrun"), code=307)
    form = RulesForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    proposed, error_field = _proposed(form)  # parsed before the write transaction begins
    if proposed is None:
        return _page(form, status=400, error_field=error_field)
    row = community()
    record = save_rules(
        db_session(),
        row,
        proposed,
        actor=actor(),
        reason=(form.reason.data or "").strip() or None,
    )
    community_id = row.id
    # Scans in this process see the new rules at once, but only once they are committed.
    request_unit().after_commit(lambda: services().contexts.invalidate(community_id))
    flash(_("Rules saved as version %(version)d.", version=record.version), "success")
    return redirect(url_for("console.rules"))


def _proposed(form: RulesForm) -> tuple[RuleSet | None, str | None]:
    """The form's rules, or None and the offending field (its error set on the form)."""
    try:
        return parse_proposed_rules(form.rules_json.data or ""), None
    except RuleSetError as exc:
        form.rules_json.errors = [_rules_error(exc)]
        return None, exc.field


def _rules_error(exc: RuleSetError) -> str:
    """The refusal in the page's language: its problem code worded, naming the field."""
    message_id = RULE_MESSAGES.get(exc.problem)
    if message_id is None:  # a code newer than this page: name the field at least
        return str(_("Field %(field)s: check its value.", field=exc.field))
    params: dict[str, str | int] = {"field": exc.field, **exc.params}
    return str(_(message_id, **params))


def _page(
    form: RulesForm,
    *,
    status: int = 200,
    result: DryRunResult | None = None,
    error_field: str | None = None,
) -> tuple[str, int]:
    row = community()
    versions = [
        {
            "version": r.version,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "summary": _summary(r.rules_json),
            "current": r.version == row.current_rule_version,
        }
        for r in rule_versions(db_session(), row.id, limit=HISTORY_LIMIT)
    ]
    html = render_template(
        "console/rules.html",
        form=form,
        current=current_rules(db_session(), row),
        current_version=row.current_rule_version,
        versions=versions,
        result=result,
        error_field=error_field,
    )
    return html, status


def _summary(text: str) -> str:
    try:
        return rules_from_json(text).describe_quota(lang())
    except RuleSetError:
        return "?"
