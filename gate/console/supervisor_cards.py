"""``/supervisor-cards``: the community's supervisor cards (主管卡): issue one to a supervisor
account, print it (PDF or PNG), revoke it. The work and its audit events are
:mod:`gate.supervisors.operations`'."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField

from gate.supervisors.operations import (
    DEFAULT_VALID_DAYS,
    SupervisorCardError,
    card_file,
    card_holders,
    card_of,
    issue_supervisor_card,
    revoke_supervisor_card,
    short_id,
    supervisor_cards,
)
from gate.web.auth import OFFICE_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes
from gate.web.validators import DataRequired, NumberRange
from passes.supervisor_card import MAX_CARD_VALIDITY

from . import console
from .common import actor, attachment, not_found, now
from .forms import RevokeForm


class IssueCardForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Issue a card to one of the community's supervisor accounts."""

    username = SelectField(_l("Supervisor"), choices=[], validators=[DataRequired()])
    days = IntegerField(
        _l("Valid for (days)"),
        default=DEFAULT_VALID_DAYS,
        validators=[DataRequired(), NumberRange(1, MAX_CARD_VALIDITY.days)],
    )


def _form() -> IssueCardForm:
    form = IssueCardForm()
    holders = card_holders(db_session(), current_community_id())
    form.username.choices = [
        (user.username, f"{user.display_name} ({user.username})") for user in holders
    ]
    return form


def _page(form: IssueCardForm, *, status: int = 200, issued: str | None = None) -> Any:
    rows = supervisor_cards(db_session(), current_community_id())
    html = render_template(
        "console/supervisor_cards.html",
        rows=rows,
        form=form,
        revoke_form=RevokeForm(),
        short_id=short_id,
        issued=issued,
        now=now(),
    )
    return html, status


@console.get("/supervisor-cards", endpoint="supervisor_cards")
@require_role(*OFFICE_ROLES)
def supervisor_cards_page() -> Any:
    """Every card of the community, and the form to issue one."""
    return _page(_form(), issued=request.args.get("issued"))


@console.post("/supervisor-cards", endpoint="supervisor_card_issue")
@require_role(*OFFICE_ROLES)
@writes
def supervisor_card_issue() -> Any:
    """Issue a card; the page then offers it for printing."""
    form = _form()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        issued = issue_supervisor_card(
            db_session(),
            community_id=current_community_id(),
            username=form.username.data or "",
            valid_days=int(form.days.data or DEFAULT_VALID_DAYS),
            actor=actor(),
            now=now(),
        )
    except SupervisorCardError as exc:
        form.username.errors = [_(exc.message_id, **exc.params)]
        return _page(form, status=409)
    number = short_id(issued.record.card_id)
    flash(_("Supervisor card %(card)s issued: print it below.", card=number), "success")
    return redirect(url_for("console.supervisor_cards", issued=number))


@console.post("/supervisor-cards/<int:row_id>/print", endpoint="supervisor_card_print")
@require_role(*OFFICE_ROLES)
@writes
def supervisor_card_print(row_id: int) -> Any:
    """The card as a PDF (one card on A4) or, with ``format=png``, a 300 dpi PNG."""
    record = card_of(db_session(), current_community_id(), row_id)
    if record is None:
        not_found()
    pdf = request.form.get("format", "pdf") != "png"
    name = f"主管卡-{short_id(record.card_id)}.{'pdf' if pdf else 'png'}"
    try:
        data = card_file(db_session(), record, pdf=pdf, actor=actor(), file_name=name)
    except SupervisorCardError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.supervisor_cards"))
    return Response(
        data,
        mimetype="application/pdf" if pdf else "image/png",
        headers={"Content-Disposition": attachment(name)},
    )


@console.post("/supervisor-cards/<int:row_id>/revoke", endpoint="supervisor_card_revoke")
@require_role(*OFFICE_ROLES)
@writes
def supervisor_card_revoke(row_id: int) -> Any:
    """Revoke a card: refused online at once, offline from each scanner's next sync."""
    record = card_of(db_session(), current_community_id(), row_id)
    if record is None:
        not_found()
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Revoking a card needs a reason."), "error")
        return redirect(url_for("console.supervisor_cards"))
    try:
        revoke_supervisor_card(
            db_session(),
            community_id=current_community_id(),
            card=record.card_id.hex(),
            reason=form.reason.data or "",
            actor=actor(),
            now=now(),
        )
    except SupervisorCardError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return redirect(url_for("console.supervisor_cards"))
    flash(_("Supervisor card %(card)s revoked.", card=short_id(record.card_id)), "success")
    return redirect(url_for("console.supervisor_cards"))
