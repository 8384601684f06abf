"""The one place that turns stored codes into what an office clerk reads.

Every table of the console shows a label, never a raw code: verdict reason codes
(``quota`` -> 本户外出次数已用完), directions (``out`` -> 外出), household statuses, pass and
device statuses, audit actions (``crossings.export_unmasked`` -> 导出出入记录（未打码）) and the
keys of an audit event's details. The code itself stays available to the page (a ``title``
attribute) and to exports (a column of its own).

Verdict reasons come from :mod:`passes.codes` (the words the gate screen shows, in the
request's language), so the office and the volunteer read the same sentence. Every other
label is an English message id marked with :func:`N_` and translated with gettext.

Registries (:data:`ACTION_LABELS`, :data:`EXTRA_CODE_LABELS`, ...) are plain dicts so that a
test can prove every action written anywhere in ``gate`` has a label: a new action without
one fails ``tests/gate/web/test_labels.py``. An unknown code is shown as stored (never an
error: old rows outlive the code that wrote them).

Registered as Jinja filters by :func:`configure_labels` (called from
:func:`gate.web.formatting.configure_formatting`): ``reason_label``, ``direction_label``,
``status_label``, ``pass_status_label``, ``action_label``, ``audit_details``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import gettext

from gate.audit.masking import mask_manual_code
from gate.errands.labels import KIND_LABELS as ERRAND_KIND_LABELS
from gate.errors import N_
from passes import Code, reason

EXTRA_CODE_LABELS: dict[str, str] = {
    "clock_backwards": N_("Dated behind the scanner's clock"),
    "rejected_upload": N_("Unreadable upload from a scanner"),
    "scanned_at_future": N_("Dated in the future (scanner clock ahead)"),
    "scanned_before_enrolment": N_("Dated before the scanner was set up"),
}
"""Codes a crossing may carry besides :class:`passes.Code`: the server's flags and its
reasons for keeping an upload as rejected (``gate.crossings``)."""

DIRECTION_LABELS: dict[str, str] = {"out": N_("Exit"), "in": N_("Entry")}

SUBJECT_LABELS: dict[str, str] = {
    "visitor": N_("Visitor (visitor pass)"),
    "walk_in": N_("No pass (turned back)"),
    "delivery": N_("Delivery (handed over)"),
    "vehicle": N_("Vehicle"),
}
"""Who crossed when not a household's pass (``crossings.subject``)."""

OUTSIDER_LABELS: dict[str, str] = {
    "visitor": N_("Visitor"),
    "delivery": N_("Delivery / courier"),
    "turned_back": N_("Turned back"),
    "handed_over": N_("Handed over at the gate"),
    "medical": N_("Medical"),
    "official": N_("Official"),
    "png": N_("Picture"),
    "page": N_("Page"),
}
"""Values of the visitors' audit details (kinds, outcomes, media)."""

HOUSEHOLD_STATUS_LABELS: dict[str, str] = {
    "normal": N_("Normal"),
    "quarantined": N_("Home quarantine"),
    "exempt": N_("Exempt"),
}

PASS_STATUS_LABELS: dict[str, str] = {
    "active": N_("Active"),
    "revoked": N_("Revoked"),
    "superseded": N_("Superseded"),
}

ROLE_LABELS: dict[str, str] = {
    "admin": N_("Administrator"),
    "office": N_("Office staff"),
    "auditor": N_("Auditor"),
    "supervisor": N_("Supervisor"),
    "volunteer": N_("Gate volunteer"),
    "district_office": N_("District office"),
    "district_auditor": N_("District auditor"),
}

ACTION_LABELS: dict[str, str] = {
    "audit.checkpoint": N_("Log checkpoint signed"),
    "community.create": N_("Community created"),
    "community.rotating_codes": N_("Rotating screen codes switched"),
    "crossing.conflict_review": N_("Offline conflict reviewed"),
    "crossing.id_reuse": N_("A scan's id was sent again with other content"),
    "crossing.override_refused": N_("Supervisor override refused"),
    "crossing.timeline_conflict": N_("Late upload changed a household's state"),
    "crossings.export": N_("Crossing log exported (names masked)"),
    "crossings.export_unmasked": N_("Crossing log exported with full names"),
    "device.clock_backwards": N_("Scanner clock set back"),
    "device.create": N_("Scanner added"),
    "device.enroll": N_("Scanner enrolled"),
    "device.revoke": N_("Scanner revoked"),
    "errand.accept": N_("Errand accepted"),
    "errand.assign": N_("Errand assigned"),
    "errand.cancel": N_("Errand cancelled"),
    "errand.create": N_("Errand requested"),
    "errand.deliver": N_("Errand delivered"),
    "errand.export": N_("Errand list exported"),
    "errand.squad_create": N_("Errand squad formed"),
    "errand.squad_members": N_("Errand squad members changed"),
    "gate.add": N_("Gate added"),
    "gate.close": N_("Gate closed"),
    "gate.rename": N_("Gate renamed"),
    "gate.reopen": N_("Gate reopened"),
    "household.create": N_("Household added"),
    "household.exempt": N_("Household exempted"),
    "household.import": N_("Households imported"),
    "household.normal": N_("Household back to normal rules"),
    "household.quarantine": N_("Household put in home quarantine"),
    "household.update": N_("Household updated"),
    "key.create": N_("Signing key created"),
    "key.retire": N_("Signing key retired"),
    "key.revoke": N_("Signing key revoked"),
    "pass.card": N_("Pass card downloaded"),
    "pass.issue": N_("Pass issued"),
    "pass.print": N_("Pass cards printed"),
    "pass.reissue": N_("Pass reissued"),
    "pass.revoke": N_("Pass revoked"),
    "privacy.end_lockdown": N_("Lockdown ended"),
    "privacy.export": N_("Household data exported (names masked)"),
    "privacy.export_unmasked": N_("Household data exported with full names"),
    "privacy.purge": N_("Data deleted after the retention"),
    "privacy.retention": N_("Data retention set"),
    "resident_link.issue": N_("Phone pass link sent"),
    "resident_link.reissue": N_("Phone pass link replaced"),
    "resident_link.revoke": N_("Phone pass link revoked"),
    "rules.save": N_("Rules saved"),
    "roster.assign": N_("Put on a duty shift"),
    "roster.copy": N_("Duty roster copied from another week"),
    "roster.export": N_("Duty roster exported"),
    "roster.plan": N_("Duty shifts planned"),
    "roster.remove": N_("Duty shift removed"),
    "roster.unassign": N_("Taken off a duty shift"),
    "supervisor_card.issue": N_("Supervisor card issued"),
    "supervisor_card.print": N_("Supervisor card printed"),
    "supervisor_card.revoke": N_("Supervisor card revoked"),
    "vehicle.add": N_("Vehicle registered"),
    "vehicle.remove": N_("Vehicle removed"),
    "vehicle_pass.issue": N_("Vehicle pass issued"),
    "vehicle_pass.print": N_("Vehicle pass printed"),
    "vehicle_pass.revoke": N_("Vehicle pass revoked"),
    "visitor_pass.issue": N_("Visitor pass issued"),
    "visitor_pass.print": N_("Visitor pass printed or sent"),
    "visitor_pass.revoke": N_("Visitor pass revoked"),
    "walk_in.register": N_("Person without a pass registered at the gate"),
    "site.area_add": N_("Area added"),
    "site.area_rename": N_("Area renamed"),
    "site.building_add": N_("Building added"),
    "site.building_merge": N_("Buildings merged"),
    "site.building_rename": N_("Building renamed"),
    "site.compound_add": N_("Compound added"),
    "site.compound_rename": N_("Compound renamed"),
    "site.grid_add": N_("Grid added"),
    "site.grid_rename": N_("Grid renamed"),
    "user.create": N_("User created"),
    "user.disable": N_("User disabled"),
    "user.grant": N_("User given access to a community"),
    "user.password": N_("Password changed"),
    "user.revoke": N_("User's access to a community taken away"),
    "user.role": N_("User role changed"),
    "zone.end_changed": N_("Lockdown zone's end moved"),
    "zone.lift": N_("Lockdown zone lifted"),
    "zone.lock": N_("Lockdown zone set"),
}
"""Every audit action written in ``gate`` (``record_event(action=...)``) and its label."""

ACTION_GROUP_LABELS: dict[str, str] = {
    "audit": N_("Log checkpoints (all)"),
    "community": N_("Community (all)"),
    "crossing": N_("Crossings (all)"),
    "crossings": N_("Exports (all)"),
    "device": N_("Scanners (all)"),
    "errand": N_("Quarantine errands (all)"),
    "gate": N_("Gates (all)"),
    "household": N_("Households (all)"),
    "key": N_("Signing keys (all)"),
    "pass": N_("Passes (all)"),
    "privacy": N_("Data retention and deletion (all)"),
    "roster": N_("Duty roster (all)"),
    "resident_link": N_("Phone pass links (all)"),
    "rules": N_("Rules (all)"),
    "supervisor_card": N_("Supervisor cards (all)"),
    "site": N_("Places: areas, grids, compounds, buildings (all)"),
    "user": N_("Users (all)"),
    "vehicle": N_("Vehicles (all)"),
    "vehicle_pass": N_("Vehicle passes (all)"),
    "visitor_pass": N_("Visitor passes (all)"),
    "walk_in": N_("People without a pass (all)"),
    "zone": N_("Lockdown zones (all)"),
}
"""The audit filter's prefixes (``pass`` matches every ``pass.*`` action)."""

DETAIL_KEY_LABELS: dict[str, str] = {
    "after": N_("After"),
    "at": N_("Time"),
    "backup": N_("Backup copy"),
    "before": N_("Before"),
    "building": N_("Building"),
    "building_id": N_("Building"),
    "card": N_("Supervisor card"),
    "checkpoint_at": N_("Checkpoint signed at"),
    "deleted": N_("Deleted"),
    "devices_revoked": N_("Scanners revoked"),
    "full": N_("Everything of the community"),
    "household_status_changes": N_("Status changes"),
    "members": N_("Members"),
    "passes": N_("Passes"),
    "passes_revoked": N_("Passes revoked"),
    "purge_due_at": N_("Deletion due"),
    "retention_days": N_("Days kept after the lockdown"),
    "refusal": N_("Override refused for"),
    "cards": N_("Cards"),
    "code": N_("Reason"),
    "conflict_code": N_("Would be refused for"),
    "conflict_only": N_("Conflicts only"),
    "conflict_with_id": N_("Conflicts with crossing"),
    "contact_phone": N_("Phone"),
    "count": N_("Count"),
    "created": N_("Added"),
    "crossings": N_("Crossings"),
    "direction": N_("Direction"),
    "enabled": N_("Enabled"),
    "errand": N_("Errand"),
    "kind": N_("Kind"),
    "squad": N_("Squad"),
    "reason": N_("Reason"),
    "fever_only": N_("Fever only"),
    "fields": N_("Changed fields"),
    "file": N_("File"),
    "format": N_("Format"),
    "from": N_("From"),
    "gate": N_("Gate"),
    "gate_id": N_("Gate"),
    "gate_seq": N_("Sequence number"),
    "gates": N_("Gates"),
    "generation": N_("Generation"),
    "grid": N_("Grid"),
    "head": N_("Head of household"),
    "head.id_number_hash": N_("Head of household's ID number"),
    "head.name": N_("Head of household's name"),
    "head.phone": N_("Head of household's phone"),
    "household": N_("Household"),
    "households": N_("Households"),
    "key_id": N_("Key"),
    "kept_building": N_("Kept building"),
    "manual_code": N_("Manual code"),
    "merged_building": N_("Merged building (removed)"),
    "masked": N_("Names masked"),
    "name": N_("Name"),
    "username": N_("Username"),
    "new_name": N_("New name"),
    "new_places": N_("New places"),
    "note": N_("Note"),
    "offline_only": N_("Offline only"),
    "old_name": N_("Old name"),
    "pages": N_("Pages"),
    "previous_status": N_("Previous status"),
    "previous_version": N_("Previous version"),
    "private_key": N_("Private key"),
    "quarantine_until": N_("Quarantine until"),
    "role": N_("Role"),
    "room": N_("Room"),
    "row": N_("Row"),
    "rows": N_("Rows"),
    "rules": N_("Rules"),
    "skipped_rows": N_("Skipped rows"),
    "status": N_("Status"),
    "timezone": N_("Time zone"),
    "to": N_("To"),
    "unchanged": N_("Unchanged"),
    "under": N_("Belongs to"),
    "unit": N_("Unit"),
    "updated": N_("Updated"),
    "valid_days": N_("Valid days"),
    "verdict": N_("Verdict"),
    "without_pass": N_("Without a pass"),
    "claimed_allowed": N_("Scanner allowed"),
    "claimed_supervisor": N_("Named supervisor"),
    "client_id": N_("Crossing id"),
    "credential": N_("Supervisor credential"),
    "device": N_("Device"),
    "devices": N_("Scanners revoked"),
    "device_id": N_("Device"),
    "household_id": N_("Household id"),
    "latest": N_("Latest time seen"),
    "offline": N_("Offline"),
    "pass": N_("Pass"),
    "pass_check": N_("Pass check"),
    "pass_id": N_("Pass id"),
    "scanned_at": N_("Scanned at"),
    "temperature": N_("Temperature"),
    "user": N_("User"),
    "added": N_("Added"),
    "days": N_("Days"),
    "duty": N_("Duty"),
    "ends_at": N_("Ends"),
    "first_day": N_("First day"),
    "shifts": N_("Shifts"),
    "slots": N_("Time slots"),
    "starts_at": N_("Starts"),
    "outcome": N_("Outcome"),
    "plate": N_("Plate"),
    "phone": N_("Phone"),
    "single_use": N_("Single use"),
    "valid_from": N_("Valid from"),
    "valid_until": N_("Valid until"),
    "medium": N_("Medium"),
    "crossing_id": N_("Crossing"),
    "ends_at_before": N_("Ended before"),
    "level": N_("Level"),
    "lifted_at": N_("Lifted at"),
    "place_id": N_("Place"),
    "scope": N_("Scope"),
}
"""Names of the keys audit events' details hold (unknown keys are shown as stored)."""

VALUE_LABELS: dict[str, str] = {
    "area": N_("Area"),
    "building": N_("Building"),
    "compound": N_("Compound"),
    "grid": N_("Grid"),
    "allowed": N_("Allowed"),
    "refused": N_("Refused"),
    "removed": N_("removed"),
    "not on this server": N_("not on this server"),
    **PASS_STATUS_LABELS,
    **HOUSEHOLD_STATUS_LABELS,
    **ROLE_LABELS,
    **DIRECTION_LABELS,
    **ERRAND_KIND_LABELS,
    **OUTSIDER_LABELS,
    "sealed": N_("Sealed (no exits)"),
    "controlled": N_("Controlled (exits by the rules)"),
    "precaution": N_("Precaution (normal)"),
}
"""Words that audit details hold as values (statuses, roles, directions, verdicts)."""

_CODE_KEYS = frozenset({"code", "conflict_code", "refusal"})
_SUMMARISED_KEYS = frozenset({"rules", "crossings"})
"""Keys whose value is too long to read in a table: shown as a count or "…"."""
_YES, _NO = N_("yes"), N_("no")
_SECRET_KEYS = frozenset({"manual_code"})
"""Keys whose value lets its reader through a gate (a pass's 人工核验码): never shown whole."""
_AWARE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")
"""An instant as ``datetime.isoformat()`` writes an aware one (``...+00:00``)."""


def _known(table: Mapping[str, str], code: object) -> str:
    text = "" if code is None else str(getattr(code, "value", code))
    msgid = table.get(text)
    return text if msgid is None else str(gettext(msgid))


def reason_label(code: object) -> str:
    """A verdict or rejection code's reason in the request's language; "" for no code."""
    if code is None or code == "":
        return ""
    text = str(getattr(code, "value", code))
    try:
        known = Code(text)
    except ValueError:
        return _known(EXTRA_CODE_LABELS, text)
    from gate.web.i18n import is_chinese

    return reason(known, "zh" if is_chinese() else "en")


def subject_label(subject: object) -> str:
    """A crossing's ``subject`` (visitor, walk_in, delivery, vehicle): 访客, 无证人员 ..."""
    return _known(SUBJECT_LABELS, subject)


def direction_label(direction: object) -> str:
    """``out``/``in`` (or a :class:`passes.Direction`): 外出/进入."""
    return _known(DIRECTION_LABELS, direction)


def status_label(status: object) -> str:
    """A household status: 正常, 居家隔离, 豁免."""
    return _known(HOUSEHOLD_STATUS_LABELS, status)


def pass_status_label(status: object) -> str:
    """A pass status: 有效, 已作废, 已补办."""
    return _known(PASS_STATUS_LABELS, status)


def role_label(role: object) -> str:
    """A user role: 管理员, 社区工作人员, ..."""
    return _known(ROLE_LABELS, role)


def action_label(action: object) -> str:
    """An audit action (``pass.revoke``) as a sentence (出入证已作废); unknown ones as stored."""
    return _known(ACTION_LABELS, action)


def action_choices() -> list[tuple[str, str]]:
    """The audit filter's options: every prefix ("all passes") and every action, by label."""
    groups: list[tuple[str, str]] = []
    for prefix, msgid in ACTION_GROUP_LABELS.items():
        groups.append((prefix, str(gettext(msgid))))
        groups += [
            (action, "— " + str(gettext(label)))
            for action, label in ACTION_LABELS.items()
            if action.split(".", 1)[0] == prefix
        ]
    return groups


def gate_label(name: str | None, code: str | None = None) -> str:
    """A gate as the office named it (南门); its code only when it has no name."""
    return (name or "").strip() or (code or "")


CHAIN_PROBLEM_LABELS: dict[str, str] = {
    "missing_row": N_("A row is missing"),
    "duplicate_seq": N_("A sequence number appears twice"),
    "prev_hash_mismatch": N_("A row does not link to the one before"),
    "content_changed": N_("A row was changed after it was written"),
}
"""Why a gate's hash chain does not verify (``gate.verification.log.ChainBreak.problem``)."""


def chain_problem_label(problem: object) -> str:
    """The words for a chain break; an unknown problem as stored."""
    return _known(CHAIN_PROBLEM_LABELS, problem)


NAME_KEY_LABELS: dict[str, str] = {
    "community": N_("Community name"),
    "device": N_("Device name"),
    "gate": N_("Gate name"),
}
"""The details' ``name`` of an event about a thing (its ``subject_type``): a device's name is
no person's 姓名. Other events' ``name`` (a roster's or a visitor's, masked) is a person's."""


def audit_details(
    details_json: str | None, *, limit: int = 300, subject_type: str | None = None
) -> str:
    """An audit event's JSON details as readable ``key: value`` text in the request's language
    (``{"rows": 12, "masked": true}`` -> ``行数：12；姓名已打码：是``). Empty values are left
    out, nested objects flattened, long lists counted; times (ISO with an offset) in the
    request's zone; manual codes masked (:func:`gate.audit.masking.mask_manual_code`). Text
    that is not JSON is shown as stored."""
    try:
        data = json.loads(details_json or "{}")
    except ValueError:
        return (details_json or "")[:limit]
    if not isinstance(data, dict):
        return str(data)[:limit]
    from gate.web.i18n import is_chinese

    chinese = is_chinese()
    separator, joiner = ("：", "；") if chinese else (": ", "; ")
    parts = [
        f"{_key_label(key, subject_type)}{separator}{_value(key, value, chinese)}"
        for key, value in data.items()
        if value not in (None, "", [], {})
    ]
    text = joiner.join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key_label(key: str, subject_type: str | None) -> str:
    msgid = NAME_KEY_LABELS.get(subject_type or "") if key == "name" else None
    return detail_key_label(key) if msgid is None else str(gettext(msgid))


def detail_key_label(key: str) -> str:
    """The label of a key of an audit event's details; unknown keys as stored."""
    msgid = DETAIL_KEY_LABELS.get(key)
    return key if msgid is None else str(gettext(msgid))


def _value(key: str, value: Any, chinese: bool) -> str:
    if isinstance(value, bool):
        return str(gettext(_YES if value else _NO))
    if key in _SUMMARISED_KEYS:
        return str(len(value)) if isinstance(value, list) else "…"
    if isinstance(value, dict):
        inner = [
            f"{detail_key_label(k)} {_value(k, v, chinese)}"
            for k, v in value.items()
            if v not in (None, "", [], {})
        ]
        return ("，" if chinese else ", ").join(inner) or "—"
    if isinstance(value, list):
        return ("、" if chinese else ", ").join(
            detail_key_label(item) if key == "fields" else _value(key, item, chinese)
            for item in value
        )
    text = str(value)
    if key in _SECRET_KEYS:
        return mask_manual_code(text)
    if key in _CODE_KEYS:
        return reason_label(text)
    if _AWARE_TIME.match(text):
        return _local_time(text)
    msgid = VALUE_LABELS.get(text)
    return text if msgid is None else str(gettext(msgid))


def _local_time(text: str) -> str:
    from gate.web.formatting import localtime

    try:
        return localtime(datetime.fromisoformat(text))
    except ValueError:
        return text


def configure_labels(app: Flask) -> None:
    """Register the label filters on the app's Jinja environment."""
    app.jinja_env.filters.update(
        reason_label=reason_label,
        direction_label=direction_label,
        subject_label=subject_label,
        status_label=status_label,
        pass_status_label=pass_status_label,
        role_label=role_label,
        action_label=action_label,
        gate_label=gate_label,
        chain_problem_label=chain_problem_label,
        audit_details=audit_details,
    )
