"""Form errors say what is wrong with which field, in the UI language: no English
Flask-WTF default ("File does not have an approved extension"), no "required" for a number 0,
ranges given as numbers (有效天数须在 1 到 N 之间)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from flask.testing import FlaskClient
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Engine
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import transaction
from gate.web.validators import DataRequired, InputRequired, Length, NumberRange

PASSWORD = "correct-horse-battery"


@dataclass
class Office:
    compound: Compound

    def client(self, language: str) -> FlaskClient:
        self.compound.app.config["WTF_CSRF_ENABLED"] = False
        client = self.compound.app.test_client()
        client.get(f"/lang/{language}")
        answer = client.post("/login", data={"username": "fm-clerk", "password": PASSWORD})
        assert answer.status_code == 302
        return client


@pytest.fixture
def office(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Office]:
    compound = build_compound(db_url, tmp_path, households=1)
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="fm-clerk",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
    try:
        yield Office(compound)
    finally:
        compound.dispose()


def _upload(client: FlaskClient, name: str | None, data: bytes = b"x"):  # type: ignore[no-untyped-def]
    form = {} if name is None else {"sheet": (io.BytesIO(data), name)}
    return client.post("/households/import", data=form, content_type="multipart/form-data")


@pytest.mark.parametrize(
    ("name", "zh", "en"),
    [
        ("名单.xls", "另存为 .xlsx", "save the file as .xlsx"),
        ("名单.docx", "“.docx”", "Files of type .docx are not supported"),
    ],
)
def test_an_old_excel_or_word_file_is_answered_in_the_ui_language(
    office: Office, name: str, zh: str, en: str
) -> None:
    for language, expected in (("zh_CN", zh), ("en", en)):
        answer = _upload(office.client(language), name)
        assert answer.status_code == 400
        html = answer.get_data(as_text=True)
        assert expected in html, language
        assert "approved extension" not in html
    uploads = Path(office.compound.settings.instance_dir) / "imports"
    assert not uploads.exists() or not any(uploads.iterdir())  # never stored


def test_no_file_chosen_says_so(office: Office) -> None:
    answer = _upload(office.client("en"), None)
    assert answer.status_code == 400
    assert "Choose the file to upload." in answer.get_data(as_text=True)


class _Sample(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    days = IntegerField(_l("Valid for (days)"), validators=[DataRequired(), NumberRange(1, 400)])
    count = IntegerField("Count", validators=[InputRequired(), NumberRange(min=1)])
    name = StringField("Name", validators=[DataRequired(), Length(max=4)])
    pick = SelectField(
        "Gate",
        choices=[SelectChoice("", ""), SelectChoice("1", "南门")],
        validators=[DataRequired()],
    )


def _errors(office: Office, language: str, **data: str) -> dict[str, list[str]]:
    app = office.compound.app
    with app.test_request_context("/", method="POST", headers={"Accept-Language": language}):
        form = _Sample(formdata=MultiDict(data), meta={"csrf": False})
        form.validate()
        return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


def test_a_number_zero_is_out_of_range_not_missing(office: Office) -> None:
    errors = _errors(office, "en", days="0", count="0", name="ab", pick="1")
    assert errors == {
        "days": ["Valid for must be between 1 and 400."],
        "count": ["Count must be at least 1."],
    }


def test_missing_and_too_long_name_the_field(office: Office) -> None:
    errors = _errors(office, "en", days="", count="", name="abcdef", pick="")
    assert errors == {
        "days": ["Enter Valid for."],
        "count": ["Enter Count."],
        "name": ["Name may have at most 4 characters."],
        "pick": ["Choose Gate."],
    }


def test_chinese_labels_lose_their_bracketed_note(office: Office) -> None:
    errors = _errors(office, "zh-CN", days="500", count="1", name="ab", pick="1")
    (message,) = errors["days"]
    assert "（" not in message
    assert "400" in message
