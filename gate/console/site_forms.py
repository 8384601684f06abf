"""Forms of the site page (hierarchy, gates) and of bulk issuing. CSRF comes from the global
CSRFProtect, like every console form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from gate.issuing.operations import DEFAULT_VALID_DAYS, MAX_VALID_DAYS
from gate.web.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class PlaceForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Add an area, a grid, a compound or a building under its parent."""

    level = HiddenField(validators=[DataRequired()])
    parent = HiddenField(validators=[Optional()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])


class RenameForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Rename a place or a gate."""

    name = StringField(_l("New name"), validators=[DataRequired(), Length(max=100)])


class MergeForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Merge two buildings that are the same: the second one's households move."""

    keep = SelectField(_l("Keep this building"), choices=[], validators=[DataRequired()])
    merged = SelectField(
        _l("Move its households here and remove it"), choices=[], validators=[DataRequired()]
    )


class GateForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Add a gate."""

    name = StringField(_l("Gate name (e.g. 南门)"), validators=[DataRequired(), Length(max=100)])
    code = StringField(
        _l("Short code for the command line (optional: lower-case letters and digits)"),
        validators=[Optional(), Length(max=32)],
    )


class GateCloseForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Close or reopen a gate, with an optional reason."""

    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class BulkIssueForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Issue or re-issue the passes of a building, a grid or every household."""

    scope = RadioField(
        _l("Whose passes"),
        choices=[
            SelectChoice("building", _l("One building")),
            SelectChoice("grid", _l("One grid")),
            SelectChoice("all", _l("Every household")),
        ],
        default="building",
    )
    building = SelectField(_l("Building"), choices=[], validators=[Optional()])
    grid = SelectField(_l("Grid"), choices=[], validators=[Optional()])
    mode = RadioField(
        _l("What to do"),
        choices=[
            SelectChoice("issue", _l("Issue to households without a valid pass")),
            SelectChoice("reissue", _l("Re-issue to everyone (all older cards stop working)")),
        ],
        default="issue",
    )
    valid_days = IntegerField(
        _l("Valid for (days)"),
        default=DEFAULT_VALID_DAYS,
        validators=[InputRequired(), NumberRange(1, MAX_VALID_DAYS)],
        render_kw={"min": 1, "max": MAX_VALID_DAYS},
    )
    reason = StringField(_l("Reason (for re-issuing)"), validators=[Optional(), Length(max=500)])
