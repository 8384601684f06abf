"""The rules page's form: every rule as a field (in Chinese), the JSON as an advanced view.

:func:`fill_rule_fields` writes a :class:`passes.RuleSet` into the fields; :func:`rule_fields_dict`
reads them back as the rules' JSON shape, which ``passes.rules_from_dict`` validates as it does
any JSON: one validator, whose :class:`passes.RuleSetError` names a JSON field that
:data:`FORM_FIELD_OF` maps to the form field to show the refusal under.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice

from gate.errors import N_
from gate.rules.dryrun import DEFAULT_DAYS, MAX_DAYS
from gate.web.validators import Length, NumberRange, Optional
from passes import RuleSet

NO_QUOTA = "none"
"""``quota_kind`` of rules without an outing quota."""

JSON_ACTIONS = frozenset({"save_json", "dryrun_json"})
"""The advanced view's buttons: these read the JSON, the other buttons read the fields."""


class RuleFieldsForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """The rules as fields, the advanced JSON, a reason and the dry-run window.

    Numbers are optional to WTForms: whether one is needed depends on the others (no quota
    needs no length), which the rules' own validator decides (see :func:`rule_fields_dict`).
    """

    quota_kind = SelectField(
        _l("How outings are counted"),
        choices=[
            SelectChoice("calendar_days", _l("Per calendar days")),
            SelectChoice("rolling_hours", _l("Per rolling hours")),
            SelectChoice(NO_QUOTA, _l("No limit on outings")),
        ],
        default="calendar_days",
    )
    count = SelectField(
        _l("Counted per"),
        choices=[
            SelectChoice("households", _l("Households: each scan is one outing")),
            SelectChoice("people", _l("People: the volunteer enters how many go")),
        ],
        default="households",
    )
    quota_exits = IntegerField(_l("Outings per window"), validators=[Optional()])
    quota_length = IntegerField(_l("Window length (days or hours)"), validators=[Optional()])
    closed = BooleanField(_l("Full lockdown: no exits (exempt households excepted)"))
    max_out_at_once = IntegerField(_l("People out at once per household"), validators=[Optional()])
    exit_start = TimeField(_l("Exits allowed from"), validators=[Optional()])
    exit_end = TimeField(_l("Exits allowed until"), validators=[Optional()])
    max_outside_minutes = IntegerField(
        _l("Maximum time outside (minutes)"), validators=[Optional()]
    )
    fever_threshold = DecimalField(_l("Fever from (°C)"), places=1, validators=[Optional()])
    temperature_required = BooleanField(_l("Temperature must be taken at the gate"))
    plausible_min_tenths = HiddenField()
    plausible_max_tenths = HiddenField()
    vehicles_on = BooleanField(_l("Decide cars without a vehicle pass by their plate"))
    vehicle_prefixes = StringField(
        _l("Local plate prefixes (e.g. 鲁E 鲁B, or 鲁 for the whole province)"),
        validators=[Length(max=200)],
    )
    vehicle_local = SelectField(
        _l("Local plate without a vehicle pass"),
        choices=[
            SelectChoice("allow", _l("Let in, plate logged")),
            SelectChoice("refuse", _l("Refuse: a vehicle pass is needed")),
        ],
        default="allow",
    )
    vehicle_outside = SelectField(
        _l("Outside plate without a vehicle pass"),
        choices=[
            SelectChoice("refuse", _l("Refuse (外地车辆禁止进入)")),
            SelectChoice("register", _l("Register and let in, plate logged")),
        ],
        default="refuse",
    )
    rules_json = TextAreaField(_l("Rules (JSON)"))
    reason = StringField(_l("Reason for the change"), validators=[Length(max=500)])
    days = IntegerField(
        _l("Dry run over the last days"),
        default=DEFAULT_DAYS,
        validators=[Optional(), NumberRange(1, MAX_DAYS)],
    )


RULE_FIELDS = (
    "closed",
    "quota_kind",
    "count",
    "quota_exits",
    "quota_length",
    "max_out_at_once",
    "exit_start",
    "exit_end",
    "max_outside_minutes",
    "fever_threshold",
    "temperature_required",
    "plausible_min_tenths",
    "plausible_max_tenths",
    "vehicles_on",
    "vehicle_prefixes",
    "vehicle_local",
    "vehicle_outside",
)
"""The fields that hold the rules (not the JSON, the reason or the dry-run window)."""

FORM_FIELD_OF: dict[str, str] = {
    "closed": "closed",
    "vehicles": "vehicles_on",
    "vehicles.local_prefixes": "vehicle_prefixes",
    "vehicles.local": "vehicle_local",
    "vehicles.outside": "vehicle_outside",
    "count": "count",
    "quota": "quota_kind",
    "quota.window": "quota_kind",
    "quota.exits": "quota_exits",
    "quota.length": "quota_length",
    "max_out_at_once": "max_out_at_once",
    "exit_hours": "exit_start",
    "exit_hours.start": "exit_start",
    "exit_hours.end": "exit_end",
    "max_outside_minutes": "max_outside_minutes",
    "temperature": "fever_threshold",
    "temperature.required": "temperature_required",
    "temperature.fever_threshold_tenths": "fever_threshold",
    "temperature.plausible_min_tenths": "fever_threshold",
    "temperature.plausible_max_tenths": "fever_threshold",
}
"""JSON field of a :class:`passes.RuleSetError` -> the form field it is shown under."""

FORM_MESSAGES: dict[tuple[str, str], str] = {
    ("exit_start", "start_equals_end"): N_(
        "Field %(field)s: the start equals the end; leave both times empty for exits at any time."
    ),
    ("exit_start", "required"): N_(
        "Field %(field)s: give both times, or leave both empty for exits at any time."
    ),
    ("exit_end", "required"): N_(
        "Field %(field)s: give both times, or leave both empty for exits at any time."
    ),
    ("fever_threshold", "out_of_range"): N_(
        "Field %(field)s must be a temperature from %(low)s to %(high)s °C."
    ),
    ("fever_threshold", "fever_outside_plausible"): N_(
        "Field %(field)s must be above %(low)s °C and at most %(high)s °C"
        " (the thermometer's plausible range)."
    ),
    ("fever_threshold", "one_decimal"): N_("Field %(field)s takes one decimal at most, like 37.3."),
}
"""Refusals worded for the form where the JSON wording would not fit (JSON names, tenths)."""


def fill_rule_fields(form: RuleFieldsForm, rules: RuleSet) -> None:
    """Show ``rules`` in the fields (what was typed is dropped: the rules win)."""
    quota = rules.quota
    exit_hours = rules.exit_hours
    temperature = rules.temperature
    values: dict[str, Any] = {
        "closed": rules.closed,
        "count": rules.count.value,
        "quota_kind": NO_QUOTA if quota is None else quota.window.value,
        "quota_exits": None if quota is None else quota.exits,
        "quota_length": None if quota is None else quota.length,
        "max_out_at_once": rules.max_out_at_once,
        "exit_start": None if exit_hours is None else exit_hours.start,
        "exit_end": None if exit_hours is None else exit_hours.end,
        "max_outside_minutes": rules.max_outside_minutes,
        "fever_threshold": Decimal(temperature.fever_threshold_tenths) / 10,
        "temperature_required": temperature.required,
        "plausible_min_tenths": str(temperature.plausible_min_tenths),
        "plausible_max_tenths": str(temperature.plausible_max_tenths),
        "vehicles_on": rules.vehicles is not None,
        "vehicle_prefixes": " ".join(rules.vehicles.local_prefixes) if rules.vehicles else "",
        "vehicle_local": rules.vehicles.local.value if rules.vehicles else "allow",
        "vehicle_outside": rules.vehicles.outside.value if rules.vehicles else "refuse",
    }
    for name, value in values.items():
        field = form[name]
        field.data = value
        field.raw_data = None
        field.errors = []


class FieldProblem(Exception):
    """A field the rules' validator cannot be given (e.g. 37.35 °C): ``field`` and ``problem``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def rule_fields_dict(form: RuleFieldsForm, *, timezone: str) -> dict[str, Any]:
    """The fields as the rules' JSON shape (for ``passes.rules_from_dict``), in ``timezone``.

    Both exit times blank mean any time; a blank maximum time outside means no overdue
    alert; the plausible range (advanced: JSON only) is carried in hidden fields.
    Raises :class:`FieldProblem` for what that validator cannot see (a blank number that
    is needed, a second decimal).
    """
    data: dict[str, Any] = {
        "version": 1,
        "timezone": timezone,
        "max_out_at_once": _need(form.max_out_at_once.data, "max_out_at_once"),
        "max_outside_minutes": form.max_outside_minutes.data,
    }
    if form.quota_kind.data == NO_QUOTA:
        data["quota"] = None
    else:
        data["quota"] = {
            "window": form.quota_kind.data,
            "exits": _need(form.quota_exits.data, "quota.exits"),
            "length": _need(form.quota_length.data, "quota.length"),
        }
    start, end = form.exit_start.data, form.exit_end.data
    if start is None and end is None:
        data["exit_hours"] = None
    else:
        data["exit_hours"] = {
            "start": _need(start, "exit_hours.start").strftime("%H:%M"),
            "end": _need(end, "exit_hours.end").strftime("%H:%M"),
        }
    temperature: dict[str, Any] = {"required": bool(form.temperature_required.data)}
    fever = form.fever_threshold.data
    temperature["fever_threshold_tenths"] = _tenths(
        _need(fever, "temperature.fever_threshold_tenths")
    )
    for name in ("plausible_min_tenths", "plausible_max_tenths"):
        text = (form[name].data or "").strip()
        if text:  # absent: the rules' defaults
            temperature[name] = int(text) if text.isdigit() else text
    data["temperature"] = temperature
    if form.closed.data:
        data["closed"] = True
    if form.vehicles_on.data:  # the rule for cars without a pass (passes.rules.VehicleRules)
        data["vehicles"] = {
            "local_prefixes": _prefixes(form.vehicle_prefixes.data),
            "local": form.vehicle_local.data,
            "outside": form.vehicle_outside.data,
        }
    if form.count.data != "households":  # only then: the JSON keeps its shape
        data["count"] = form.count.data
    return data


def _need(value: Any, field: str) -> Any:
    """``value``, or :class:`FieldProblem` ``required`` for the JSON ``field`` left blank."""
    if value is None:
        raise FieldProblem(field, "required")
    return value


def _prefixes(text: str | None) -> list[str]:
    """Local plate prefixes as typed: separated by spaces or commas (full-width too)."""
    return (text or "").replace("，", " ").replace(",", " ").replace("、", " ").split()


def _tenths(value: Decimal) -> int:
    try:
        tenths = value * 10
        if tenths != tenths.to_integral_value():
            raise FieldProblem("temperature.fever_threshold_tenths", "one_decimal")
        return int(tenths)
    except InvalidOperation:
        raise FieldProblem("temperature.fever_threshold_tenths", "one_decimal") from None
