"""``/privacy``: letting the data go. The retention setting, the purge when it is due, and the
end of the lockdown (admins, with the community's name typed to confirm); and a household's
data export for an access request (``/households/<code>/privacy-export``, office staff,
masked; an admin may export unmasked with their password). The work and its audit events
are :mod:`gate.privacy`'s."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gate.accounts.models import Role
from gate.crossings.export import ExportRefused, export_account
from gate.privacy.export import SHEET_TITLES, export_household
from gate.privacy.purge import delete_import_uploads, purge
from gate.privacy.retention import (
    PrivacyError,
    end_lockdown,
    purge_due_at,
    retention_of,
    set_retention,
)
from gate.services import services
from gate.signing.operations import SigningKeyUnavailable, active_signing_key
from gate.web.auth import OFFICE_ROLES, READ_ROLES, current_account, require_role
from gate.web.unit_of_work import db_session, writes

from . import console
from .common import actor, attachment, community, household_or_404, now


def _refused(exc: PrivacyError) -> Any:
    flash(_(exc.message_id, **exc.params), "error")
    return redirect(url_for("console.privacy"))


def _key(community_id: int) -> Any:
    try:
        return active_signing_key(db_session(), community_id)
    except SigningKeyUnavailable:
        return None


def _forget_chain_report(community_id: int) -> None:
    current_app.extensions.get("console_chain_cache", {}).pop(community_id, None)


@console.get("/privacy", endpoint="privacy")
@require_role(*READ_ROLES)
def privacy_page() -> Any:
    """Retention, the lockdown's end and the purge's due date; admins may act on them."""
    row = community()
    retention = retention_of(db_session(), row.id)
    account = current_account()
    due = purge_due_at(retention)
    return render_template(
        "console/privacy.html",
        community=row,
        retention=retention,
        due=due,
        purge_is_due=due is not None and due <= now(),
        is_admin=account is not None and account.role is Role.ADMIN,
    )


@console.post("/privacy/retention", endpoint="privacy_retention")
@require_role(Role.ADMIN)
@writes
def privacy_retention() -> Any:
    """Set how many days crossings are kept after the lockdown ends."""
    row = community()
    try:
        days = int(request.form.get("days", ""))
    except ValueError:
        days = -1
    try:
        set_retention(db_session(), row.id, days, actor=actor())
    except PrivacyError as exc:
        return _refused(exc)
    flash(_("Retention saved: %(days)d days after the lockdown ends.", days=days), "success")
    return redirect(url_for("console.privacy"))


@console.post("/privacy/purge", endpoint="privacy_purge")
@require_role(Role.ADMIN)
@writes
def privacy_purge() -> Any:
    """Run the full purge once it is due; the log is verified from its checkpoint after."""
    row = community()
    try:
        result = purge(db_session(), row.id, _key(row.id), now=now(), actor=actor())
    except PrivacyError as exc:
        return _refused(exc)
    _forget_chain_report(row.id)
    delete_import_uploads(services().settings.instance_dir, row.id)
    flash(
        _(
            "Purged: %(crossings)d crossings and %(households)d households deleted; the log "
            "is verified from the checkpoint signed before the purge.",
            crossings=result.crossings,
            households=result.households,
        ),
        "success",
    )
    return redirect(url_for("console.privacy"))


@console.post("/privacy/end-lockdown", endpoint="privacy_end_lockdown")
@require_role(Role.ADMIN)
@writes
def privacy_end_lockdown() -> Any:
    """End the lockdown: every pass and scanner revoked, a final checkpoint, purge scheduled."""
    row = community()
    if request.form.get("confirm", "").strip() != row.name:
        flash(_("The confirmation does not match the community's name."), "error")
        return redirect(url_for("console.privacy"))
    try:
        ended = end_lockdown(db_session(), row.id, _key(row.id), now=now(), actor=actor())
    except PrivacyError as exc:
        return _refused(exc)
    flash(
        _(
            "Lockdown ended: %(passes)d passes and %(devices)d scanners revoked.",
            passes=ended.passes_revoked,
            devices=ended.devices_revoked,
        ),
        "success",
    )
    return redirect(url_for("console.privacy"))


@console.post("/households/<code>/privacy-export", endpoint="household_privacy_export")
@require_role(*OFFICE_ROLES)
@writes
def household_privacy_export(code: str) -> Any:
    """Everything stored about the household as a workbook (masked unless an admin asks for
    it unmasked and gives their password); audited."""
    session = db_session()
    row = community()
    household = household_or_404(session, code)
    unmasked = request.form.get("unmasked") == "1"
    user_id = None
    if unmasked:
        try:
            user = export_account(
                session,
                row.id,
                actor(),
                unmasked=True,
                password=request.form.get("password") or None,
            )
        except ExportRefused:
            flash(
                _("An unmasked export needs an admin of this community and the right password."),
                "error",
            )
            return redirect(url_for("console.household", code=household.code))
        user_id = user.id
    data, _counts = export_household(
        session, row.id, household.code, unmasked=unmasked, actor=actor(), user_id=user_id
    )
    name = f"{household.code}-{SHEET_TITLES['households']}数据.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment(name)},
    )
