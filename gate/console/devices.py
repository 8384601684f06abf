"""``/devices``: scanners per gate with last contact and backlog; create (one-time enrolment
code shown as text and QR), revoke."""

from __future__ import annotations

import base64
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms.fields.choices import SelectChoice

from gate.app import services
from gate.community.models import Community
from gate.db import transaction
from gate.devices.models import Device, Gate
from gate.devices.operations import create_device, revoke_device
from gate.web.auth import OFFICE_ROLES, require_role
from passes import render_png

from . import console
from .common import actor, community, not_found, now
from .forms import DeviceForm, RevokeForm


def _gates(session: Session, row: Community) -> list[Gate]:
    return list(
        session.scalars(
            select(Gate)
            .where(Gate.community_id == row.id)
            .options(selectinload(Gate.devices))
            .order_by(Gate.code)
        )
    )


def _page(form: DeviceForm, *, created: dict[str, Any] | None = None, status: int = 200) -> Any:
    with transaction(services().sessions, read_only=True) as session:
        row = community(session)
        gates = _gates(session, row)
        form.gate.choices = [SelectChoice(str(g.id), f"{g.name} ({g.code})") for g in gates]
        html = render_template(
            "console/devices.html",
            gates=gates,
            form=form,
            revoke_form=RevokeForm(),
            created=created,
            now=now(),
        )
    return html, status


@console.get("/devices", endpoint="devices")
@require_role(*OFFICE_ROLES)
def devices() -> Any:
    """Every gate's scanners."""
    return _page(DeviceForm())


@console.post("/devices", endpoint="device_create")
@require_role(*OFFICE_ROLES)
def device_create() -> Any:
    """Register a scanner; its enrolment code is shown once (text and QR), never stored."""
    form = DeviceForm()
    with transaction(services().sessions) as session:
        row = community(session)
        form.gate.choices = [SelectChoice(str(g.id), g.code) for g in _gates(session, row)]
        if not form.validate_on_submit():
            return _page(form, status=400)
        gate = session.get(Gate, int(form.gate.data or 0))
        if gate is None or gate.community_id != row.id:
            not_found()
        new = create_device(session, gate=gate, name=form.name.data or "", actor=actor(), now=now())
        created = {
            "name": new.device.name,
            "gate": gate.name,
            "code": new.enrolment_code,
            "expires_at": new.device.enrollment_expires_at,
            "qr": "data:image/png;base64,"
            + base64.b64encode(render_png(new.enrolment_code, module_px=6)).decode("ascii"),
        }
    return _page(DeviceForm(), created=created)


@console.post("/devices/<int:device_id>/revoke", endpoint="device_revoke")
@require_role(*OFFICE_ROLES)
def device_revoke(device_id: int) -> Any:
    """Revoke a scanner: its token is refused from now on."""
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Revoking a device needs a reason."), "error")
        return redirect(url_for("console.devices"))
    with transaction(services().sessions) as session:
        device = session.get(Device, device_id)
        if device is None or device.gate.community_id != community(session).id:
            not_found()
        if device.revoked_at is None:
            revoke_device(session, device, actor=actor(), reason=form.reason.data or "", now=now())
            flash(_("Device revoked."), "success")
    return redirect(url_for("console.devices"))
