"""``/devices``: scanners per gate with last contact, backlog and state
(:func:`gate.crossings.dashboard.device_state`), and the phones used as gates there
(:mod:`gate.devices.phones`, the same columns); create (one-time enrolment code shown as text
and QR) at an open gate, revoke. Gates themselves are set up on ``/site``."""

from __future__ import annotations

import base64
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from gate.devices.gates import GateError, ensure_open
from gate.devices.models import Gate
from gate.devices.operations import create_device, revoke_device
from gate.devices.queries import device_of, gates_with_devices
from gate.web.auth import OFFICE_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes
from passes import render_png

from . import console
from .common import actor, not_found, now, owned_or_404
from .dashboard import device_badge, phone_badge, phone_gates
from .forms import DeviceForm, RevokeForm


def _gates() -> list[Gate]:
    return gates_with_devices(db_session(), current_community_id())


def _open_gates(gates: list[Gate]) -> list[Any]:
    return [SelectChoice(str(g.id), g.name) for g in gates if g.closed_at is None]


def _page(form: DeviceForm, *, created: dict[str, Any] | None = None, status: int = 200) -> Any:
    gates = _gates()
    form.gate.choices = _open_gates(gates)
    moment = now()
    phones, volunteers = phone_gates(moment)
    html = render_template(
        "console/devices.html",
        gates=gates,
        form=form,
        revoke_form=RevokeForm(),
        created=created,
        now=moment,
        device_badge=device_badge,
        phones=phones,
        volunteers=volunteers,
        phone_badge=phone_badge,
        gate_url=url_for("gateview.screen", _external=True),
        request_is_secure=request.is_secure,
    )
    return html, status


@console.get("/devices", endpoint="devices")
@require_role(*OFFICE_ROLES)
def devices() -> Any:
    """Every gate's scanners and phones."""
    return _page(DeviceForm())


@console.post("/devices", endpoint="device_create")
@require_role(*OFFICE_ROLES)
@writes
def device_create() -> Any:
    """Register a scanner; its enrolment code is shown once (text and QR), never stored."""
    form = DeviceForm()
    form.gate.choices = _open_gates(_gates())
    if not form.validate_on_submit():
        return _page(form, status=400)
    gate: Gate = owned_or_404(None, Gate, int(form.gate.data or 0))
    try:
        ensure_open(gate)
    except GateError as exc:
        flash(_(exc.message_id, **exc.params), "error")
        return _page(form, status=409)
    new = create_device(
        db_session(), gate=gate, name=form.name.data or "", actor=actor(), now=now()
    )
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
@writes
def device_revoke(device_id: int) -> Any:
    """Revoke a scanner: its token is refused from now on."""
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Revoking a device needs a reason."), "error")
        return redirect(url_for("console.devices"))
    device = device_of(db_session(), device_id, current_community_id())
    if device is None:
        not_found()
    if revoke_device(db_session(), device, actor=actor(), reason=form.reason.data or "", now=now()):
        flash(_("Device revoked."), "success")
    return redirect(url_for("console.devices"))
