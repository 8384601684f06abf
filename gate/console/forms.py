"""Flask-WTF forms of the console. CSRF comes from the global CSRFProtect; filter forms on
GET requests are built with ``meta={"csrf": False}``."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice

from gate.accounts.models import Role
from gate.issuing.operations import DEFAULT_VALID_DAYS, MAX_VALID_DAYS
from gate.rules.dryrun import DEFAULT_DAYS, MAX_DAYS
from gate.web.validators import (
    DataRequired,
    FileRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from passes import Code, reason

STATUS_ACTIONS = ("quarantine", "exempt", "normal")


def _code_label(code: Code) -> str:
    """A verdict code's reason in the UI language (the code itself is the option's value)."""
    locale = get_locale()
    return reason(code, "en" if locale is not None and locale.language == "en" else "zh")


class StatusForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Set a household's status: quarantine through a local date, exempt, or normal."""

    action = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("quarantine", _l("Home quarantine")),
            SelectChoice("exempt", _l("Exempt (essential work)")),
            SelectChoice("normal", _l("Normal")),
        ],
    )
    until = DateField(_l("Quarantine until (inclusive)"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class IssueForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Issue (or re-issue: every older card dies) a household pass."""

    reissue = BooleanField(_l("Re-issue (older cards stop working)"))
    valid_days = IntegerField(
        _l("Valid for (days)"),
        default=DEFAULT_VALID_DAYS,
        validators=[InputRequired(), NumberRange(1, MAX_VALID_DAYS)],
        render_kw={"min": 1, "max": MAX_VALID_DAYS},
    )


class RevokeForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Revoke one card or device, with a reason."""

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class HouseholdForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """One household as the import sheet describes it (validated by the import's rules)."""

    household_code = StringField(_l("Household code"), validators=[Length(max=32)])
    area = StringField(_l("Area"), validators=[Length(max=100)])
    grid = StringField(_l("Grid"), validators=[Length(max=100)])
    building = StringField(_l("Building"), validators=[Length(max=32)])
    unit = StringField(_l("Unit"), validators=[Length(max=16)])
    room = StringField(_l("Room"), validators=[Length(max=16)])
    head_name = StringField(_l("Head of household"), validators=[Length(max=64)])
    phone = StringField(_l("Phone"), validators=[Length(max=32)])
    id_number = StringField(_l("ID number (optional)"), validators=[Length(max=32)])


class ImportUploadForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Upload a household sheet for a preview. Its type is the sheet reader's to judge
    (``gate.households.spreadsheet``): it names what to do with an old .xls or WPS file
    (save as .xlsx) or another type, in the UI language (Flask-WTF's ``FileAllowed`` answered
    in English)."""

    sheet = FileField(_l("Household sheet (.xlsx or .csv)"), validators=[FileRequired()])


class ImportConfirmForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Confirm a previewed import; the token names the stored upload."""

    token = HiddenField(validators=[DataRequired(), Length(max=64)])


class PrintForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Choose the building or grid whose cards to print."""

    building = SelectField(_l("Building"), choices=[], validators=[Optional()])
    grid = SelectField(_l("Grid"), choices=[], validators=[Optional()])


class RulesForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """The rule set as JSON, a reason, and the dry-run window."""

    rules_json = TextAreaField(_l("Rules (JSON)"), validators=[DataRequired()])
    reason = StringField(_l("Reason for the change"), validators=[Length(max=500)])
    days = IntegerField(
        _l("Dry run over the last days"),
        default=DEFAULT_DAYS,
        validators=[Optional(), NumberRange(1, MAX_DAYS)],
    )


class LogFilterForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Filters of the crossing log (GET)."""

    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To (inclusive)"), validators=[Optional()])
    gate = SelectField(_l("Gate"), choices=[], validators=[Optional()])
    direction = SelectField(
        _l("Direction"),
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("out", _l("Exit")),
            SelectChoice("in", _l("Entry")),
        ],
        validators=[Optional()],
    )
    verdict = SelectField(
        _l("Verdict"),
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("allowed", _l("Allowed")),
            SelectChoice("refused", _l("Refused")),
        ],
        validators=[Optional()],
    )
    code = SelectField(
        _l("Code"),
        choices=[
            SelectChoice("", _l("Any")),
            *(SelectChoice(c.value, LazyString(_code_label, c)) for c in Code),
        ],
        default="",  # no reason chosen is valid: no filter
        validators=[Optional()],
    )
    household = StringField(_l("Household code"), validators=[Optional(), Length(max=32)])
    fever = BooleanField(_l("Fever only"))
    offline = BooleanField(_l("Offline only"))
    conflict = BooleanField(_l("Conflicts only"))
    late = BooleanField(_l("Came back late only"))


class ReviewForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Mark an offline conflict reviewed."""

    note = StringField(_l("Note"), validators=[DataRequired(), Length(max=1000)])


class DeviceForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Register a scanner at a gate."""

    gate = SelectField(_l("Gate"), choices=[], validators=[DataRequired()])
    name = StringField(_l("Device name"), validators=[DataRequired(), Length(max=100)])


ROLE_CHOICES = [
    SelectChoice(Role.OFFICE.value, _l("Office staff")),
    SelectChoice(Role.AUDITOR.value, _l("Auditor")),
    SelectChoice(Role.SUPERVISOR.value, _l("Gate supervisor")),
    SelectChoice(Role.VOLUNTEER.value, _l("Gate volunteer")),
    SelectChoice(Role.ADMIN.value, _l("Administrator")),
]


class UserForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Create a user; a blank password generates one (shown once)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(2, 64)])
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    password = PasswordField(
        _l("Initial password (blank: generate one)"), validators=[Optional(), Length(10, 256)]
    )


class RoleForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Change a user's role."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class AuditFilterForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Filters of the audit trail (GET)."""

    actor = StringField(_l("Actor"), validators=[Optional(), Length(max=64)])
    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To (inclusive)"), validators=[Optional()])
