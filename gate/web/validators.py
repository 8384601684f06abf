"""Form validators whose messages name the field and say what to do, in the UI language.

WTForms' and Flask-WTF's defaults are generic ("该字段是必填字段。", "字段长度必须介于 ...")
or English (Flask-WTF's ``FileAllowed``), and ``DataRequired`` calls a number 0 "required"
(有效天数 = 0 answered "该字段是必填字段。" instead of the allowed range). Forms import these
instead of WTForms' own; each takes an explicit ``message`` as WTForms' does.

- :class:`DataRequired`: "Enter <label>." (a choice: "Choose <label>."); a number, 0
  included, is data (its range is :class:`NumberRange`'s to judge).
- :class:`InputRequired`: the same message when nothing was sent.
- :class:`NumberRange`: "<label> must be between <min> and <max>." (or at least / at most).
- :class:`Length`: "<label> may have at most <max> characters." (or at least / between).
- :class:`FileRequired`: "Choose the file to upload."

The label is the field's, without a trailing explanation in brackets ("有效天数（天）" is
named "有效天数").
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_wtf.file import FileRequired as _FileRequired
from werkzeug.datastructures import FileStorage
from wtforms import validators as wtf
from wtforms.validators import StopValidation, ValidationError

__all__ = [
    "DataRequired",
    "EqualTo",
    "FileRequired",
    "InputRequired",
    "Length",
    "NumberRange",
    "Optional",
]

EqualTo = wtf.EqualTo
Optional = wtf.Optional

_BRACKETED = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_CHOICE_TYPES = frozenset({"SelectField", "RadioField", "SelectMultipleField"})


def field_name(field: Any) -> str:
    """The field's label as a user reads it, without a bracketed explanation at the end."""
    text = str(field.label.text).strip()
    return _BRACKETED.sub("", text) or text


def _required_message(field: Any) -> str:
    if field.type in _CHOICE_TYPES:
        return str(_("Choose %(label)s.", label=field_name(field)))
    return str(_("Enter %(label)s.", label=field_name(field)))


class DataRequired(wtf.DataRequired):  # type: ignore[misc]  # wtforms ships no type hints
    """Required, with a message naming the field; a number (0 too) counts as data."""

    def __call__(self, form: Any, field: Any) -> None:
        if isinstance(field.data, int | float) and not isinstance(field.data, bool):
            return
        if field.data and (not isinstance(field.data, str) or field.data.strip()):
            return
        field.errors[:] = []
        raise StopValidation(self.message or _required_message(field))


class InputRequired(wtf.InputRequired):  # type: ignore[misc]  # wtforms ships no type hints
    """Something must have been sent, with a message naming the field."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.raw_data and field.raw_data[0]:
            return
        field.errors[:] = []
        raise StopValidation(self.message or _required_message(field))


class NumberRange(wtf.NumberRange):  # type: ignore[misc]  # wtforms ships no type hints
    """A number within ``min``..``max`` (inclusive), with a message giving the range."""

    def __call__(self, form: Any, field: Any) -> None:
        if self.message is not None:
            super().__call__(form, field)
            return
        data = field.data
        low, high = self.min, self.max
        if data is not None and (low is None or data >= low) and (high is None or data <= high):
            return
        label = field_name(field)
        if low is not None and high is not None:
            message = _(
                "%(label)s must be between %(min)s and %(max)s.", label=label, min=low, max=high
            )
        elif low is not None:
            message = _("%(label)s must be at least %(min)s.", label=label, min=low)
        else:
            message = _("%(label)s must be at most %(max)s.", label=label, max=high)
        raise ValidationError(message)


class Length(wtf.Length):  # type: ignore[misc]  # wtforms ships no type hints
    """A text of ``min``..``max`` characters, with a message naming the field."""

    def __call__(self, form: Any, field: Any) -> None:
        if self.message is not None:
            super().__call__(form, field)
            return
        length = len(field.data) if field.data else 0
        low, high = self.min, self.max
        if length >= low and (high == -1 or length <= high):
            return
        label = field_name(field)
        if high == -1:
            message = _("%(label)s must have at least %(min)d characters.", label=label, min=low)
        elif low <= 0:
            message = _("%(label)s may have at most %(max)d characters.", label=label, max=high)
        else:
            message = _(
                "%(label)s must have %(min)d to %(max)d characters.", label=label, min=low, max=high
            )
        raise ValidationError(message)


class FileRequired(_FileRequired):  # type: ignore[misc]  # flask-wtf ships no type hints
    """A file must be chosen, with a message saying so."""

    def __call__(self, form: Any, field: Any) -> None:
        if isinstance(field.data, FileStorage) and field.data:
            return
        raise StopValidation(self.message or _("Choose the file to upload."))
