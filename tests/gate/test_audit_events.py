"""Every state-changing operation writes exactly one audit event of its action, whichever
entry point called it: each action that exists both as a ``checkpoint`` command and as a
console page is run once through the CLI (click's runner on a committed SQLite database)
and once through the web (the Flask test client on the same database), and each run adds
exactly one event of that action (issue #10: operations record their own events)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from api_helpers import app_settings
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from gate.accounts.models import Role, User
from gate.accounts.operations import create_user
from gate.app import create_app
from gate.audit.models import AuditEvent
from gate.cli.accounts import users_group
from gate.cli.crossings import crossings_group
from gate.cli.db import db_group
from gate.cli.errands import errands_group
from gate.cli.households import households_group
from gate.cli.issuing import passes_group
from gate.cli.signing import keys_group
from gate.community.models import Building, Community
from gate.db import make_engine, session_factory, transaction
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus

PASSWORD = "correct-horse-battery"
COMMUNITY_ID = 350322
HEADER = "户编号,楼栋,单元,房号,户主姓名,联系电话\n"
CLI_CODE, WEB_CODE = "1-1-101", "1-1-102"


@click.group()
def root() -> None:
    """The commands under test."""


for _group in (db_group, keys_group, households_group, passes_group, users_group, crossings_group):
    root.add_command(_group)
root.add_command(errands_group)


@dataclass
class Both:
    """One committed database reached through the CLI and through a logged-in admin."""

    directory: Path
    engine: Engine
    env: dict[str, str]
    client: FlaskClient

    def cli(self, *args: str) -> None:
        result = CliRunner().invoke(root, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, result.output + result.stderr

    def events(self, action: str) -> int:
        with transaction(session_factory(self.engine), read_only=True) as session:
            count = select(func.count()).select_from(AuditEvent)
            return session.scalar(count.where(AuditEvent.action == action)) or 0

    def pass_id(self, code: str) -> int:
        with transaction(session_factory(self.engine), read_only=True) as session:
            found = session.scalar(
                select(IssuedPass.id)
                .join(Household, IssuedPass.household_id == Household.id)
                .where(Household.code == code, IssuedPass.status == PassStatus.ACTIVE)
            )
            assert found is not None
            return found

    def user_id(self, username: str) -> int:
        with transaction(session_factory(self.engine), read_only=True) as session:
            found = session.scalar(select(User.id).where(User.username == username))
            assert found is not None
            return found

    def building_id(self) -> int:
        with transaction(session_factory(self.engine), read_only=True) as session:
            found = session.scalar(select(Building.id).where(Building.code == "1"))
            assert found is not None
            return found

    def import_sheet(self, *codes: str) -> Path:
        rows = [f"{c},1,1,{c[-3:]},王五,139{i:08d}\n" for i, c in enumerate(codes, start=50)]
        path = self.directory / f"import-{codes[0]}.csv"
        path.write_text(HEADER + "".join(rows), encoding="utf-8")
        return path


@pytest.fixture
def both(tmp_path: Path) -> Iterator[Both]:
    url = f"sqlite:///{tmp_path / 'checkpoint.sqlite3'}"
    env = {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": url,
        "CHECKPOINT_SECRET_KEY": "k" * 48,
    }
    engine = make_engine(url)
    app = create_app(settings=app_settings(url, tmp_path))
    app.config["WTF_CSRF_ENABLED"] = False
    both = Both(tmp_path, engine, env, app.test_client())
    try:
        both.cli("db", "upgrade")
        with transaction(session_factory(engine)) as session:
            session.add(Community(id=COMMUNITY_ID, name="幸福里社区", code="xfl"))
            session.flush()
            for username, role in (
                ("clerk", Role.ADMIN),
                ("cli-u", Role.OFFICE),
                ("web-u", Role.OFFICE),
            ):
                create_user(
                    session,
                    community_id=COMMUNITY_ID,
                    username=username,
                    password=PASSWORD,
                    role=role,
                    actor="test",
                )
        both.cli("households", "import", str(both.import_sheet(CLI_CODE, WEB_CODE)))
        both.cli("keys", "create")
        login = both.client.post("/login", data={"username": "clerk", "password": PASSWORD})
        assert login.status_code == 302
        yield both
    finally:
        app.extensions["checkpoint"].engine.dispose()
        engine.dispose()


Step = Callable[[Both], object]


@dataclass(frozen=True)
class Action:
    name: str  # the audit action
    cli: Step
    web: Step
    prepare: tuple[str, ...] = ()  # a CLI command run on both households first


def _post(path: str, data: dict[str, str] | None = None) -> Step:
    def step(both: Both) -> None:
        answer = both.client.post(path.format(code=WEB_CODE), data=data or {})
        assert answer.status_code in (200, 302), answer.get_data(as_text=True)[:2000]

    return step


def _web_import(both: Both) -> None:
    sheet = both.import_sheet("2-1-201")
    preview = both.client.post(
        "/households/import",
        data={"sheet": (io.BytesIO(sheet.read_bytes()), sheet.name)},
        content_type="multipart/form-data",
    )
    html = preview.get_data(as_text=True)
    token = html.split('name="token" type="hidden" value="')[1].split('"')[0]
    done = both.client.post(
        "/households/import/confirm", data={"token": token, "filename": sheet.name}
    )
    assert done.status_code == 302


def _web_revoke(both: Both) -> None:
    pass_id = both.pass_id(WEB_CODE)
    _post(f"/households/{{code}}/passes/{pass_id}/revoke", {"reason": "搬离"})(both)


def _web_card(both: Both) -> None:
    answer = both.client.get(f"/households/{WEB_CODE}/passes/{both.pass_id(WEB_CODE)}/card.png")
    assert answer.status_code == 200
    assert answer.data.startswith(b"\x89PNG")


def _web_print(both: Both) -> None:
    answer = both.client.post("/passes/print", data={"building": str(both.building_id())})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]


def _cli(*args: str) -> Step:
    def step(both: Both) -> None:
        both.cli(*(a.format(code=CLI_CODE, dir=both.directory) for a in args))

    return step


ISSUE_BOTH = ("passes", "issue", "--all")

ACTIONS = [
    Action(
        "household.quarantine",
        _cli("households", "quarantine", "{code}", "--until", "2099-11-30", "--reason", "密接"),
        _post(
            "/households/{code}/status",
            {"action": "quarantine", "until": "2099-11-30", "reason": "密接"},
        ),
    ),
    Action(
        "household.exempt",
        _cli("households", "exempt", "{code}", "--reason", "保供人员"),
        _post("/households/{code}/status", {"action": "exempt", "reason": "保供人员"}),
    ),
    Action(
        "household.normal",
        _cli("households", "normal", "{code}", "--reason", "期满"),
        _post("/households/{code}/status", {"action": "normal", "reason": "期满"}),
        prepare=("exempt",),
    ),
    Action(
        "household.import",
        lambda both: both.cli("households", "import", str(both.import_sheet("3-1-301"))),
        _web_import,
    ),
    Action(
        "pass.issue",
        _cli("passes", "issue", "--household", "{code}"),
        _post("/households/{code}/passes", {"valid_days": "30"}),
    ),
    Action(
        "pass.reissue",
        _cli("passes", "reissue", "--household", "{code}", "--reason", "卡丢失"),
        _post("/households/{code}/passes", {"valid_days": "30", "reissue": "y"}),
        prepare=ISSUE_BOTH,
    ),
    Action(
        "pass.revoke",
        _cli("passes", "revoke", "--household", "{code}", "--reason", "搬离"),
        _web_revoke,
        prepare=ISSUE_BOTH,
    ),
    Action(
        "pass.card",
        _cli("passes", "card", "--household", "{code}", "--out", "{dir}/card.png"),
        _web_card,
        prepare=ISSUE_BOTH,
    ),
    Action(
        "pass.print",
        _cli("passes", "print", "--building", "1", "--out", "{dir}/cards.pdf"),
        _web_print,
        prepare=ISSUE_BOTH,
    ),
    Action(
        "user.create",
        _cli("users", "create", "--username", "new-cli", "--role", "office", "--generate-password"),
        _post(
            "/users",
            {"username": "new-web", "display_name": "新", "role": "office", "password": PASSWORD},
        ),
    ),
    Action(
        "user.disable",
        _cli("users", "disable", "--username", "cli-u"),
        lambda both: _post(f"/users/{both.user_id('web-u')}/disable")(both),
    ),
    Action(
        "user.role",
        _cli("users", "set-role", "--username", "cli-u", "--role", "auditor"),
        lambda both: _post(f"/users/{both.user_id('web-u')}/role", {"role": "auditor"})(both),
    ),
    Action(
        "crossings.export",
        _cli(
            "crossings",
            "export",
            "--from",
            "2020-01-01",
            "--to",
            "2099-12-31",
            "--format",
            "csv",
            "--out",
            "{dir}/log.csv",
        ),
        lambda both: both.client.get(
            "/log/export", query_string={"fmt": "csv", "from": "2020-01-01", "to": "2099-12-31"}
        ).get_data(),
    ),
    Action(
        "errand.squad_create",
        _cli("errands", "squads", "--name", "党员先锋队A组"),
        _post("/errands/squads", {"name": "党员先锋队B组"}),
    ),
    Action(
        "errand.export",
        _cli("errands", "export", "--out", "{dir}/errands.xlsx"),
        lambda both: both.client.get("/errands/export.xlsx").get_data(),
    ),
]


@pytest.mark.parametrize("action", ACTIONS, ids=[a.name for a in ACTIONS])
def test_the_cli_and_the_web_each_write_exactly_one_event(both: Both, action: Action) -> None:
    if action.prepare == ("exempt",):
        for code in (CLI_CODE, WEB_CODE):
            both.cli("households", "exempt", code, "--reason", "准备")
    elif action.prepare:
        both.cli(*action.prepare)

    before = both.events(action.name)
    action.cli(both)
    after_cli = both.events(action.name)
    action.web(both)
    after_web = both.events(action.name)

    assert (after_cli - before, after_web - after_cli) == (1, 1)
