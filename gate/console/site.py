"""``/site``: the community's places and gates, set up by the office.

The hierarchy (片区 > 网格 > 小区/院落 > 楼栋) with the households of each building: add, rename,
merge two buildings that are the same. The gates (出入口) with their scanners' states: add,
rename, close, reopen; scanners are added on ``/devices``. Every change is done and audited by
the feature's operation (``gate.site.hierarchy``, ``gate.devices.gates``); a refused change
answers 400 with the reason in the page and writes nothing.
"""

from __future__ import annotations

from typing import Any, cast

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from gate.devices.gates import GateError, add_gate, close_gate, rename_gate, reopen_gate
from gate.devices.models import Gate
from gate.devices.queries import gates_with_devices
from gate.errors import CodedError
from gate.site.hierarchy import (
    LEVELS,
    HierarchyError,
    Level,
    add_place,
    find_place,
    merge_buildings,
    rename_place,
    site_tree,
)
from gate.web.auth import OFFICE_ROLES, current_community_id, require_role
from gate.web.unit_of_work import db_session, writes

from . import console
from .common import actor, community, now, owned_or_404
from .dashboard import device_badge
from .site_forms import GateCloseForm, GateForm, MergeForm, PlaceForm, RenameForm

_PARENT_LEVEL: dict[str, Level] = {"grid": "area", "compound": "grid", "building": "compound"}


def _building_choices(form: MergeForm) -> None:
    tree = site_tree(db_session(), current_community_id())
    choices = [SelectChoice("", "—")]
    for area in tree.areas:
        for grid in area.grids:
            for compound in grid.compounds:
                for building in compound.buildings:
                    label = _(
                        "%(building)s (%(grid)s · %(compound)s, %(count)d households)",
                        building=building.name,
                        grid=grid.name,
                        compound=compound.name,
                        count=tree.count(building),
                    )
                    choices.append(SelectChoice(str(building.id), label))
    form.keep.choices = choices
    form.merged.choices = choices


def _page(status: int = 200, **forms: Any) -> tuple[str, int]:
    session = db_session()
    merge = forms.get("merge") or MergeForm()
    _building_choices(merge)
    html = render_template(
        "console/site.html",
        community=community(session),
        tree=site_tree(session, current_community_id()),
        gates=gates_with_devices(session, current_community_id()),
        place_form=forms.get("place") or PlaceForm(),
        rename_form=RenameForm(),
        merge_form=merge,
        gate_form=forms.get("gate") or GateForm(),
        close_form=GateCloseForm(),
        now=now(),
        device_badge=device_badge,
    )
    return html, status


def _refused(exc: CodedError, **forms: Any) -> tuple[str, int]:
    flash(_(exc.message_id, **exc.params), "error")
    return _page(400, **forms)


def _invalid(form: Any) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


@console.get("/site", endpoint="site")
@require_role(*OFFICE_ROLES)
def site() -> Any:
    """The community's places, households per building, and gates."""
    return _page()


@console.post("/site/places", endpoint="site_place_add")
@require_role(*OFFICE_ROLES)
@writes
def site_place_add() -> Any:
    """Add an area, a grid (of an area), a compound (of a grid) or a building (of a compound)."""
    form = PlaceForm()
    if not form.validate_on_submit() or form.level.data not in LEVELS:
        flash(_invalid(form) or _("Choose what to add."), "error")
        return _page(400, place=form)
    level = cast(Level, form.level.data)
    session = db_session()
    try:
        parent = None
        if level in _PARENT_LEVEL:
            parent_id = int(form.parent.data) if (form.parent.data or "").isdigit() else 0
            parent = find_place(session, _PARENT_LEVEL[level], parent_id, current_community_id())
        row = add_place(
            session,
            community(session),
            level,
            name=form.name.data or "",
            parent=parent,  # type: ignore[arg-type]  # find_place returned the parent level
            actor=actor(),
        )
    except HierarchyError as exc:
        return _refused(exc, place=form)
    flash(_("%(name)s added.", name=row.name), "success")
    return redirect(url_for("console.site") + f"#{level}-{row.id}")


@console.post("/site/<level>/<int:place_id>/rename", endpoint="site_place_rename")
@require_role(*OFFICE_ROLES)
@writes
def site_place_rename(level: str, place_id: int) -> Any:
    """Rename an area, a grid, a compound or a building."""
    form = RenameForm()
    if level not in LEVELS:
        return _page(404)
    if not form.validate_on_submit():
        flash(_invalid(form), "error")
        return _page(400)
    session = db_session()
    try:
        place = find_place(session, level, place_id, current_community_id())
        previous = place.name
        rename_place(session, place, name=form.name.data or "", actor=actor())
    except HierarchyError as exc:
        if exc.code == "no_such_place":
            return _page(404)
        return _refused(exc)
    flash(_("%(old)s is now called %(new)s.", old=previous, new=place.name), "success")
    return redirect(url_for("console.site") + f"#{level}-{place_id}")


@console.post("/site/buildings/merge", endpoint="site_buildings_merge")
@require_role(*OFFICE_ROLES)
@writes
def site_buildings_merge() -> Any:
    """Merge two buildings: the second one's households move into the first; it is removed."""
    form = MergeForm()
    _building_choices(form)
    if not form.validate_on_submit():
        flash(_invalid(form), "error")
        return _page(400, merge=form)
    session = db_session()
    try:
        keep = find_place(session, "building", int(form.keep.data), current_community_id())
        merged = find_place(session, "building", int(form.merged.data), current_community_id())
        merged_name = merged.name
        moved = merge_buildings(session, keep, merged, actor=actor())  # type: ignore[arg-type]
    except HierarchyError as exc:
        return _refused(exc, merge=form)
    flash(
        _(
            "%(merged)s merged into %(keep)s: %(count)d households moved; their passes stay valid.",
            merged=merged_name,
            keep=keep.name,
            count=moved,
        ),
        "success",
    )
    return redirect(url_for("console.site") + f"#building-{keep.id}")


@console.post("/site/gates", endpoint="site_gate_add")
@require_role(*OFFICE_ROLES)
@writes
def site_gate_add() -> Any:
    """Add a gate."""
    form = GateForm()
    if not form.validate_on_submit():
        flash(_invalid(form), "error")
        return _page(400, gate=form)
    try:
        gate = add_gate(
            db_session(),
            community(),
            name=form.name.data or "",
            code=form.code.data or None,
            actor=actor(),
        )
    except GateError as exc:
        return _refused(exc, gate=form)
    flash(_("Gate %(gate)s added: add its scanner on the Devices page.", gate=gate.name), "success")
    return redirect(url_for("console.site") + f"#gate-{gate.id}")


@console.post("/site/gates/<int:gate_id>/rename", endpoint="site_gate_rename")
@require_role(*OFFICE_ROLES)
@writes
def site_gate_rename(gate_id: int) -> Any:
    """Rename a gate (its code stays)."""
    gate: Gate = owned_or_404(None, Gate, gate_id)
    form = RenameForm()
    if not form.validate_on_submit():
        flash(_invalid(form), "error")
        return _page(400)
    try:
        rename_gate(db_session(), gate, name=form.name.data or "", actor=actor())
    except GateError as exc:
        return _refused(exc)
    flash(_("Gate renamed: %(gate)s.", gate=gate.name), "success")
    return redirect(url_for("console.site") + f"#gate-{gate.id}")


@console.post("/site/gates/<int:gate_id>/close", endpoint="site_gate_close")
@require_role(*OFFICE_ROLES)
@writes
def site_gate_close(gate_id: int) -> Any:
    """Close a gate: its scanners are revoked at once."""
    gate: Gate = owned_or_404(None, Gate, gate_id)
    form = GateCloseForm()
    if not form.validate_on_submit():
        return _page(400)
    try:
        revoked = close_gate(
            db_session(), gate, actor=actor(), now=now(), reason=form.reason.data or None
        )
    except GateError as exc:
        return _refused(exc)
    flash(
        _(
            "Gate %(gate)s closed; %(count)d scanner(s) revoked.",
            gate=gate.name,
            count=len(revoked),
        ),
        "success",
    )
    return redirect(url_for("console.site") + f"#gate-{gate.id}")


@console.post("/site/gates/<int:gate_id>/reopen", endpoint="site_gate_reopen")
@require_role(*OFFICE_ROLES)
@writes
def site_gate_reopen(gate_id: int) -> Any:
    """Reopen a closed gate (add a scanner for it on /devices)."""
    gate: Gate = owned_or_404(None, Gate, gate_id)
    form = GateCloseForm()
    if not form.validate_on_submit():
        return _page(400)
    try:
        reopen_gate(db_session(), gate, actor=actor(), reason=form.reason.data or None)
    except GateError as exc:
        return _refused(exc)
    flash(_("Gate %(gate)s is open again.", gate=gate.name), "success")
    return redirect(url_for("console.site") + f"#gate-{gate.id}")
