"""``/rules``: the rules in force, a form in Chinese for every rule (a template picker fills
it), the JSON as an advanced view, field-named errors, a dry run over the last days'
crossings before saving, and the version history. Every save is a new version.

Three routes, one page: ``GET /rules`` shows it (``?template=NAME`` fills the form from a
template, saving nothing); ``POST /rules/dryrun`` replays the proposed rules and is
read-only (it can take seconds and must never hold SQLite's write lock, which would stall
every scan); ``POST /rules`` saves and is the only one that writes. Both POSTs read the
fields, or the JSON when the advanced view's buttons were pressed (``action`` ``*_json``) or
the request carries no fields (a script posting ``rules_json`` alone).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gate.accounts.models import Role
from gate.community.context import current_rules
from gate.community.operations import save_rules
from gate.community.queries import rule_versions
from gate.errors import N_
from gate.rules.dryrun import DEFAULT_DAYS, DryRunResult, dry_run
from gate.rules.proposal import editable_json, parse_proposed_rules
from gate.rules.templates import (
    DEFAULT_TEMPLATE,
    RULE_TEMPLATES,
    matching_template,
    template_rules,
)
from gate.services import services
from gate.web.auth import OFFICE_ROLES, require_role
from gate.web.unit_of_work import request_unit, writes
from gate.web.validators import DataRequired
from passes import Code, RuleSet, RuleSetError, reason, rules_from_dict, rules_from_json

from . import console
from .common import actor, community, db_session, lang, now
from .rule_forms import (
    FORM_FIELD_OF,
    FORM_MESSAGES,
    JSON_ACTIONS,
    RULE_FIELDS,
    FieldProblem,
    RuleFieldsForm,
    fill_rule_fields,
    rule_fields_dict,
)

HISTORY_LIMIT = 50


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
    "too_many": N_("Field %(field)s may list at most %(high)d entries."),
    "bad_plate_prefix": N_(
        "Field %(field)s: %(value)s is not a province abbreviation, optionally with its letter"
        " (鲁 or 鲁E)."
    ),
}
"""The message id of each :class:`~passes.RuleSetError` problem code (``passes`` stays
free of gettext: the page words the code)."""


@console.get("/rules", endpoint="rules")
@require_role(*OFFICE_ROLES)
def rules() -> Any:
    """The rules in force in the form (or a template's, unsaved), and the versions."""
    form = RuleFieldsForm(formdata=None)
    shown = current_rules(db_session(), community())
    template = request.args.get("template", "")
    if template in RULE_TEMPLATES:
        shown = template_rules(template, shown.timezone)
    elif template:
        template = ""  # an unknown name: the rules in force
    _show(form, shown)
    form.days.data = DEFAULT_DAYS
    return _page(form, template=template or None)


@console.post("/rules/dryrun", endpoint="rules_dryrun")
@require_role(*OFFICE_ROLES)
def rules_dryrun() -> Any:
    """Replay the proposed rules over the last days' crossings; saves nothing (read-only)."""
    form = RuleFieldsForm()
    if not _valid(form):
        return _page(form, status=400)
    proposed, error_field = _proposed(form)
    if proposed is None:
        return _page(form, status=400, error_field=error_field)
    _show(form, proposed)
    result = dry_run(
        db_session(), community().id, proposed, now=now(), days=form.days.data or DEFAULT_DAYS
    )
    return _page(form, result=result)


@console.post("/rules", endpoint="rules_save")
@require_role(*OFFICE_ROLES)
@writes
def rules_save() -> Any:
    """Save the proposed rules as the community's next version."""
    if request.form.get("action") in {"dryrun", "dryrun_json"}:
        # A browser that ignored the dry-run button's formaction: never save by mistake.
        return redirect(url_for("console.rules_dryrun"), code=307)
    form = RuleFieldsForm()
    if not _valid(form):
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


def _from_json(form: RuleFieldsForm) -> bool:
    """Whether the request proposes the JSON (advanced view, or a post without fields)."""
    return request.form.get("action") in JSON_ACTIONS or "quota_kind" not in request.form


def _valid(form: RuleFieldsForm) -> bool:
    """The form's checks for what is proposed: the JSON's or the fields' (WTForms only)."""
    if not _from_json(form):
        return bool(form.validate_on_submit())
    if not form.is_submitted():
        return False
    names = [n for n in ("csrf_token", "rules_json", "reason", "days") if n in form._fields]
    results = [
        form[name].validate(form, [DataRequired()] if name == "rules_json" else [])
        for name in names
    ]
    return all(results)


def _proposed(form: RuleFieldsForm) -> tuple[RuleSet | None, str | None]:
    """The proposed rules, or None and the offending JSON field (its error set on the form:
    under the form field it maps to, or under the JSON when the JSON was proposed)."""
    if _from_json(form):
        try:
            return parse_proposed_rules(form.rules_json.data or ""), None
        except RuleSetError as exc:
            form.rules_json.errors = [_rules_error(exc)]
            return None, exc.field
    timezone = current_rules(db_session(), community()).timezone
    try:
        return rules_from_dict(rule_fields_dict(form, timezone=timezone)), None
    except FieldProblem as exc:
        _field_error(form, exc.field, exc.problem, {})
        return None, None
    except RuleSetError as exc:
        _field_error(form, exc.field, exc.problem, dict(exc.params))
        return None, None


def _field_error(
    form: RuleFieldsForm, json_field: str, problem: str, params: dict[str, str | int]
) -> None:
    """Show a refusal under the form field that holds ``json_field``, naming its label."""
    name = FORM_FIELD_OF.get(json_field)
    if name is None:  # not a field of the form (the time zone): under the JSON
        form.rules_json.errors = [
            _rules_error(RuleSetError(json_field, problem, problem, **params))
        ]
        return
    field = form[name]
    worded: dict[str, str | int] = {**params, "field": f"“{field.label.text}”"}
    if name == "fever_threshold":
        worded.update(_plausible_degrees(form))
        if problem == "out_of_range":
            worded.update(
                low=_degrees(int(params.get("low", 300))),
                high=_degrees(int(params.get("high", 450))),
            )
    message_id = FORM_MESSAGES.get((name, problem)) or RULE_MESSAGES.get(problem)
    if message_id is None:
        field.errors = [str(_("Field %(field)s: check its value.", field=worded["field"]))]
        return
    field.errors = [str(_(message_id, **worded))]


def _plausible_degrees(form: RuleFieldsForm) -> dict[str, str | int]:
    texts = (form.plausible_min_tenths.data or "340", form.plausible_max_tenths.data or "430")
    try:
        low, high = (int(text) for text in texts)
    except ValueError:
        low, high = 340, 430
    return {"low": _degrees(low), "high": _degrees(high)}


def _degrees(tenths: int) -> str:
    return f"{tenths / 10:.1f}"


def _show(form: RuleFieldsForm, rules: RuleSet) -> None:
    """Show ``rules`` in the fields and in the advanced JSON."""
    fill_rule_fields(form, rules)
    form.rules_json.data = editable_json(rules)
    form.rules_json.raw_data = None


def _rules_error(exc: RuleSetError) -> str:
    """The refusal in the page's language: its problem code worded, naming the field."""
    message_id = RULE_MESSAGES.get(exc.problem)
    if message_id is None:  # a code newer than this page: name the field at least
        return str(_("Field %(field)s: check its value.", field=exc.field))
    params: dict[str, str | int] = {"field": exc.field, **exc.params}
    return str(_(message_id, **params))


def _page(
    form: RuleFieldsForm,
    *,
    status: int = 200,
    result: DryRunResult | None = None,
    error_field: str | None = None,
    template: str | None = None,
) -> tuple[str, int]:
    row = community()
    current = current_rules(db_session(), row)
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
        current=current,
        current_version=row.current_rule_version,
        rotating_codes=row.rotating_codes_enabled,
        versions=versions,
        result=result,
        error_field=error_field,
        templates=[(name, label) for name, (label, _rules) in RULE_TEMPLATES.items()],
        template=template,
        template_label=RULE_TEMPLATES[template][0] if template else None,
        picked=template or matching_template(current) or DEFAULT_TEMPLATE,
        code_label=_code_label,
        json_open=error_field is not None or _posted_json(),
        rule_fields=RULE_FIELDS,
    )
    return html, status


def _posted_json() -> bool:
    return request.method == "POST" and request.form.get("action") in JSON_ACTIONS


def _code_label(code: str | None) -> str:
    """A verdict code's reason in the page's language (the code itself stays beside it)."""
    try:
        return reason(Code(code), lang()) if code else "—"
    except ValueError:  # a code newer than this page
        return code or "—"


def _summary(text: str) -> str:
    try:
        return rules_from_json(text).describe_quota(lang())
    except RuleSetError:
        return "?"


@console.post("/rules/rotating-codes", endpoint="rotating_codes")
@require_role(Role.ADMIN)
@writes
def rotating_codes() -> Any:
    """Turn the community's rotating screen codes on or off (admin; audited by the operation)."""
    from flask_wtf import FlaskForm

    from gate.issuing.screen_codes import set_rotating_codes

    if not FlaskForm().validate_on_submit():  # the CSRF token
        return _page(RuleFieldsForm(formdata=None), status=400)
    enabled = request.form.get("enabled") == "on"
    set_rotating_codes(db_session(), community(), enabled, actor=actor(), now=now())
    flash(_("Rotating codes turned on.") if enabled else _("Rotating codes turned off."), "success")
    return redirect(url_for("console.rules"))
