"""``/rules``: the rules in force, an editor (JSON) with field-named errors, a dry run over
the last days' crossings before saving, and the version history. Every save is a new version."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from gate.app import services
from gate.community.context import current_rules
from gate.community.models import RuleSet as RuleSetRecord
from gate.community.operations import save_rules
from gate.db import transaction
from gate.web.auth import OFFICE_ROLES, require_role
from passes import RuleSet, RuleSetError, rules_from_json

from . import console
from .common import actor, community, lang, now
from .dryrun import DEFAULT_DAYS, DryRunResult, dry_run
from .forms import RulesForm

HISTORY_LIMIT = 50


def _editable_json(rules: RuleSet) -> str:
    return json.dumps(rules.to_dict(), ensure_ascii=False, indent=2)


def _parse(text: str, fallback_version: int) -> RuleSet:
    """The proposed rules; the stored version is assigned on save, so a missing one is fine."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return rules_from_json(text)  # raises RuleSetError naming "(json)"
    if isinstance(data, dict) and "version" not in data:
        data["version"] = fallback_version
    return rules_from_json(json.dumps(data))


@console.route("/rules", methods=["GET", "POST"], endpoint="rules")
@require_role(*OFFICE_ROLES)
def rules() -> Any:
    """View, dry-run and save the community's rules."""
    form = RulesForm()
    result: DryRunResult | None = None
    error_field: str | None = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400
        else:
            wants_dry_run = request.form.get("action") == "dryrun"
            with transaction(services().sessions) as session:
                row = community(session)
                try:
                    proposed = _parse(form.rules_json.data or "", row.current_rule_version or 1)
                except RuleSetError as exc:
                    error_field = exc.field
                    form.rules_json.errors = [
                        _("Field %(field)s: %(message)s", field=exc.field, message=exc.message)
                    ]
                    status = 400
                else:
                    if wants_dry_run:
                        result = dry_run(
                            session,
                            row.id,
                            proposed,
                            now=now(),
                            days=form.days.data or DEFAULT_DAYS,
                        )
                    else:
                        record = save_rules(
                            session,
                            row,
                            proposed,
                            actor=actor(),
                            reason=(form.reason.data or "").strip() or None,
                        )
                        version, community_id = record.version, row.id
            if status == 200 and not wants_dry_run:
                services().contexts.invalidate(community_id)
                flash(_("Rules saved as version %(version)d.", version=version), "success")
                return redirect(url_for("console.rules"))
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        current = current_rules(session, row)
        history = session.scalars(
            select(RuleSetRecord)
            .where(RuleSetRecord.community_id == row.id)
            .order_by(RuleSetRecord.version.desc())
            .limit(HISTORY_LIMIT)
        ).all()
        versions = [
            {
                "version": r.version,
                "created_at": r.created_at,
                "created_by": r.created_by,
                "summary": _summary(r.rules_json),
                "current": r.version == row.current_rule_version,
            }
            for r in history
        ]
        if request.method == "GET":
            form.rules_json.data = _editable_json(current)
            form.days.data = DEFAULT_DAYS
        html = render_template(
            "console/rules.html",
            form=form,
            current=current,
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
