"""The login form and the change-password form (Flask-WTF: CSRF token included)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from gate.accounts.passwords import MAX_LENGTH


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Username and password; ``next`` is where to go afterwards (checked by the view)."""

    username = StringField(
        _l("Username"),
        validators=[DataRequired(message=_l("Enter your username.")), Length(max=64)],
        render_kw={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class PasswordChangeForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    """Change one's own password: the current one, and the new one twice (the policy is
    checked by the view through :func:`gate.accounts.operations.check_new_password`)."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[
            DataRequired(message=_l("Enter your current password.")),
            Length(max=MAX_LENGTH, message=_l("This is not your current password.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Enter the new password."))],
        render_kw={"autocomplete": "new-password"},
    )
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(message=_l("Enter the new password a second time.")),
            EqualTo(
                "new_password",
                message=_l("The two new passwords differ: type the same password twice."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
