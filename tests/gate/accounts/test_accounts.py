"""Accounts: password hashing, users, login throttling, the users CLI, the demo's logins."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from factories import make_community
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gate.accounts.memberships import DISTRICT_ROLES
from gate.accounts.models import LoginAttempt, Role, User
from gate.accounts.operations import (
    ACCOUNT_MESSAGES,
    AccountError,
    LoginPolicy,
    check_login,
    create_user,
    disable_user,
    log_in,
    record_login,
    set_password,
    set_role,
    verify_login,
)
from gate.accounts.passwords import (
    PasswordPolicyError,
    check_policy,
    common_passwords,
    hash_password,
    needs_rehash,
    verify_password,
)
from gate.audit.models import AuditEvent
from gate.cli.accounts import users_group
from gate.community.models import Community
from gate.db import session_factory, transaction

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
POLICY = LoginPolicy(max_failures=5, window_seconds=900)
PASSWORD = "correct horse battery"


def _user(session: Session, role: Role = Role.OFFICE, username: str = "li.office") -> User:
    community = make_community(session)
    return create_user(
        session,
        community_id=community.id,
        username=username,
        password=PASSWORD,
        role=role,
        actor="test",
    )


def _attempt(session: Session, username: str, password: str, addr: str = "10.0.0.1") -> str | None:
    result = log_in(
        session, username=username, password=password, remote_addr=addr, now=NOW, policy=POLICY
    )
    return result.refusal


# --- passwords ---------------------------------------------------------------------------------


def test_passwords_are_argon2id_salted_and_verified() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, PASSWORD)
    assert not verify_password(first, PASSWORD + "x")
    assert not verify_password("not-a-hash", PASSWORD)
    assert not needs_rehash(first)


def test_hash_with_old_parameters_needs_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert verify_password(old, PASSWORD)
    assert needs_rehash(old)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "too_short"),
        ("x" * 300, "too_long"),
        ("Li.Office.Two ", "same_as_username"),
        ("li.office.two-2026", "contains_username"),
        ("aaaaaaaaaa", "too_simple"),
        ("1234567890", "too_simple"),
        ("0987654321", "too_simple"),
        ("qwertyuiop", "too_simple"),
        ("abcabcabcabc", "too_simple"),
        ("1212121212", "too_simple"),
        ("password12", "too_common"),
        ("Password!2024", "too_common"),
        ("iloveyou123", "too_common"),
        ("sunshine2020", "too_common"),
    ],
)
def test_password_policy_refuses_weak_passwords(password: str, code: str) -> None:
    with pytest.raises(PasswordPolicyError) as raised:
        check_policy(password, username="li.office.two")
    assert raised.value.code == code


@pytest.mark.parametrize(
    "password", ["correct horse battery", "dry-run-clerk-pw-1", "lantern 7 quietly moss"]
)
def test_password_policy_accepts_passwords_that_are_hard_to_guess(password: str) -> None:
    check_policy(password, username="li.office.two")


def test_the_common_password_list_ships_with_the_package() -> None:
    common = common_passwords()
    assert len(common) == 10_000
    assert {"123456", "password", "qwerty", "password12"} <= common


@pytest.mark.parametrize("code", ["contains_username", "too_simple", "too_common"])
def test_each_new_password_refusal_has_a_message(code: str) -> None:
    assert ACCOUNT_MESSAGES[code] == AccountError(code).message


def test_a_common_password_is_refused_when_a_user_is_created(db_session: Session) -> None:
    community = make_community(db_session)
    with pytest.raises(AccountError) as raised:
        create_user(
            db_session,
            community_id=community.id,
            username="wang",
            password="password12",
            role=Role.OFFICE,
            actor="test",
        )
    assert raised.value.code == "too_common"


# --- users -------------------------------------------------------------------------------------


def test_create_user_normalises_the_name_and_is_audited(db_session: Session) -> None:
    user = _user(db_session, username="  Li.Office ")
    assert user.username == "li.office"
    assert user.display_name == "li.office"
    assert user.password_hash.startswith("$argon2id$")
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert [e.subject_id for e in events] == ["li.office"]


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("x", PASSWORD, "bad_username"),
        ("名字", PASSWORD, "bad_username"),
        ("ok.name", "short", "too_short"),
    ],
)
def test_create_user_refuses_bad_input(
    db_session: Session, username: str, password: str, code: str
) -> None:
    community = make_community(db_session)
    with pytest.raises(AccountError) as raised:
        create_user(
            db_session,
            community_id=community.id,
            username=username,
            password=password,
            role=Role.OFFICE,
            actor="test",
        )
    assert raised.value.code == code


def test_usernames_are_unique(db_session: Session) -> None:
    _user(db_session, username="wang")
    with pytest.raises(AccountError) as raised:
        _user(db_session, username="WANG")
    assert raised.value.code == "username_taken"


def test_role_password_and_disable_end_sessions(db_session: Session) -> None:
    user = _user(db_session)
    versions = [user.session_version]
    set_role(db_session, user, Role.AUDITOR, actor="test")
    versions.append(user.session_version)
    set_password(db_session, user, "another long password", actor="test")
    versions.append(user.session_version)
    disable_user(db_session, user, actor="test", now=NOW, reason="left")
    versions.append(user.session_version)
    assert versions == [0, 1, 2, 3]
    assert user.role is Role.AUDITOR
    assert user.disabled_at == NOW
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert {"user.role", "user.password", "user.disable"} <= actions


# --- logging in --------------------------------------------------------------------------------


def test_login_succeeds_with_the_right_password_only(db_session: Session) -> None:
    _user(db_session)
    assert _attempt(db_session, "li.office", "wrong password") == "bad_credentials"
    assert _attempt(db_session, "nobody", PASSWORD) == "bad_credentials"
    assert _attempt(db_session, " LI.OFFICE", PASSWORD) is None
    outcomes = db_session.scalars(select(LoginAttempt.success).order_by(LoginAttempt.id)).all()
    assert outcomes == [False, False, True]


def test_login_rehashes_a_password_hashed_with_old_parameters(db_session: Session) -> None:
    user = _user(db_session)
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    user.password_hash = old
    db_session.flush()
    assert _attempt(db_session, user.username, PASSWORD) is None
    assert user.password_hash != old
    assert not needs_rehash(user.password_hash)
    assert verify_password(user.password_hash, PASSWORD)


def test_disabled_user_cannot_log_in(db_session: Session) -> None:
    user = _user(db_session)
    disable_user(db_session, user, actor="test", now=NOW)
    assert _attempt(db_session, user.username, PASSWORD) == "disabled"


def test_five_failures_for_a_username_throttle_it_from_any_address(db_session: Session) -> None:
    _user(db_session)
    for n in range(5):
        assert _attempt(db_session, "li.office", "wrong", addr=f"10.0.0.{n}") == "bad_credentials"
    assert _attempt(db_session, "li.office", PASSWORD, addr="10.9.9.9") == "throttled"


def test_failures_from_one_address_do_not_lock_its_other_accounts_out(
    db_session: Session,
) -> None:
    # A compound office behind one NAT address: one clerk mistyping five times must not
    # lock every colleague out.
    _user(db_session)
    for _ in range(5):
        assert _attempt(db_session, "wang", "wrong", addr="10.0.0.7") == "bad_credentials"
    assert _attempt(db_session, "wang", "wrong", addr="10.0.0.7") == "throttled"
    assert _attempt(db_session, "li.office", PASSWORD, addr="10.0.0.7") is None


def test_an_address_guessing_many_usernames_is_throttled_at_ten_times_the_limit(
    db_session: Session,
) -> None:
    _user(db_session)
    _user(db_session, username="known.here")
    assert _attempt(db_session, "known.here", PASSWORD, addr="10.0.0.7") is None
    limit = POLICY.address_limit
    assert limit == 50
    for n in range(limit):
        assert _attempt(db_session, f"guess{n}", "wrong", addr="10.0.0.7") == "bad_credentials"
    assert _attempt(db_session, "li.office", PASSWORD, addr="10.0.0.7") == "throttled"
    assert _attempt(db_session, "li.office", PASSWORD, addr="10.0.0.8") is None
    # A user who logged in from that address before is held only by their own limit.
    assert _attempt(db_session, "known.here", PASSWORD, addr="10.0.0.7") is None


def test_a_throttled_attempt_says_how_long_is_left(db_session: Session) -> None:
    _user(db_session)
    for minute in range(5):
        at = NOW + timedelta(minutes=minute)
        result = log_in(
            db_session,
            username="li.office",
            password="wrong",
            remote_addr="10.0.0.1",
            now=at,
            policy=POLICY,
        )
        assert result.refusal == "bad_credentials"
    later = NOW + timedelta(minutes=6)
    result = log_in(
        db_session,
        username="li.office",
        password=PASSWORD,
        remote_addr="10.0.0.1",
        now=later,
        policy=POLICY,
    )
    assert result.refusal == "throttled"
    assert result.wait_seconds == 9 * 60  # the first failure leaves the window at 15 min
    check = check_login(
        db_session,
        username="li.office",
        remote_addr="10.0.0.2",
        now=NOW + timedelta(minutes=15, seconds=1),
        policy=POLICY,
    )
    assert check.wait_seconds == 0


def test_parallel_attempts_past_the_limit_are_refused_when_recorded(
    db_session: Session,
) -> None:
    # Checked (read) while under the limit, but the limit was reached before the write:
    # refused, not recorded.
    _user(db_session)
    checks = [
        check_login(
            db_session, username="li.office", remote_addr="10.0.0.1", now=NOW, policy=POLICY
        )
        for _ in range(7)
    ]
    outcomes = [
        record_login(
            db_session, check, verify_login(check, "wrong"), now=NOW, policy=POLICY
        ).refusal
        for check in checks
    ]
    assert outcomes == ["bad_credentials"] * 5 + ["throttled"] * 2
    assert db_session.scalar(select(func.count()).select_from(LoginAttempt)) == 5


def test_failures_older_than_the_window_do_not_count(db_session: Session) -> None:
    _user(db_session)
    for _ in range(5):
        _attempt(db_session, "li.office", "wrong")
    later = NOW + timedelta(seconds=POLICY.window_seconds + 1)
    result = log_in(
        db_session,
        username="li.office",
        password=PASSWORD,
        remote_addr="10.0.0.1",
        now=later,
        policy=POLICY,
    )
    assert result.refusal is None


def test_throttled_attempts_are_not_recorded(db_session: Session) -> None:
    _user(db_session)
    for _ in range(7):
        _attempt(db_session, "li.office", "wrong")
    assert db_session.scalar(select(func.count()).select_from(LoginAttempt)) == 5


# --- the users CLI -----------------------------------------------------------------------------


@click.group()
def _root() -> None:
    """The users group as ``checkpoint`` registers it."""


_root.add_command(users_group)


@pytest.fixture
def cli_env(committed_engine: Engine, db_url: str, tmp_path: Path) -> dict[str, str]:
    with transaction(session_factory(committed_engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
    return {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": db_url,
    }


def _users(engine: Engine) -> dict[str, User]:
    with transaction(session_factory(engine), read_only=True) as session:
        return {user.username: user for user in session.scalars(select(User))}


def test_create_admin_reads_the_password_from_stdin(
    committed_engine: Engine, cli_env: dict[str, str]
) -> None:
    runner = CliRunner()
    args = ["users", "create-admin", "--community", "xfl", "--username", "Admin"]
    result = runner.invoke(_root, [*args, "--password-stdin"], input=PASSWORD + "\n", env=cli_env)
    assert result.exit_code == 0, result.output
    admin = _users(committed_engine)["admin"]
    assert admin.role is Role.ADMIN
    assert verify_password(admin.password_hash, PASSWORD)
    assert PASSWORD not in result.output

    again = runner.invoke(_root, [*args, "--password-stdin"], input=PASSWORD + "\n", env=cli_env)
    assert again.exit_code == 1
    assert "已被占用" in again.output  # the username is already taken


def test_create_admin_prompts_twice_and_refuses_a_mismatch(
    committed_engine: Engine, cli_env: dict[str, str]
) -> None:
    runner = CliRunner()
    args = ["users", "create-admin", "--username", "boss"]
    mismatch = runner.invoke(_root, args, input=f"{PASSWORD}\nsomething else\n", env=cli_env)
    assert mismatch.exit_code != 0
    assert "boss" not in _users(committed_engine)
    ok = runner.invoke(_root, args, input=f"{PASSWORD}\n{PASSWORD}\n", env=cli_env)
    assert ok.exit_code == 0, ok.output
    assert "boss" in _users(committed_engine)


def test_short_password_is_refused_by_the_cli(
    committed_engine: Engine, cli_env: dict[str, str]
) -> None:
    result = CliRunner().invoke(
        _root,
        ["users", "create-admin", "--username", "admin", "--password-stdin"],
        input="short\n",
        env=cli_env,
    )
    assert result.exit_code == 1
    assert "至少需要 10 个字符" in result.output  # at least 10 characters
    assert _users(committed_engine) == {}


def test_cli_create_set_role_disable(committed_engine: Engine, cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(
        _root,
        ["users", "create", "--username", "wang", "--role", "volunteer", "--generate-password"],
        env=cli_env,
    )
    assert created.exit_code == 0, created.output
    shown = re.search(r"初始密码（只显示这一次）：(\S+)", created.output)
    assert shown
    assert verify_password(_users(committed_engine)["wang"].password_hash, shown.group(1))

    promoted = runner.invoke(
        _root, ["users", "set-role", "--username", "wang", "--role", "supervisor"], env=cli_env
    )
    assert promoted.exit_code == 0, promoted.output
    assert "wang 的角色已改为" in promoted.output
    disabled = runner.invoke(_root, ["users", "disable", "--username", "wang"], env=cli_env)
    assert disabled.exit_code == 0, disabled.output
    assert "已停用 wang" in disabled.output
    wang = _users(committed_engine)["wang"]
    assert wang.role is Role.SUPERVISOR
    assert wang.disabled_at is not None
    assert wang.session_version == 2

    listed = runner.invoke(_root, ["users", "list"], env=cli_env)
    assert "wang\tsupervisor\tdisabled" in listed.output
    unknown = runner.invoke(_root, ["users", "disable", "--username", "nobody"], env=cli_env)
    assert unknown.exit_code == 1
    assert "没有用户 nobody" in unknown.output


@pytest.mark.parametrize(
    "command", ["create-admin", "create", "disable", "set-role", "set-password", "list"]
)
def test_every_users_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(_root, ["users", command, "--help"])
    assert result.exit_code == 0
    assert "Example: checkpoint users" in result.output


# --- the demo ----------------------------------------------------------------------------------


def test_demo_creates_one_login_per_role_with_random_passwords(
    db_session: Session, tmp_path: Path
) -> None:
    from gate.demo import build_demo

    summary = build_demo(db_session, keys_dir=tmp_path, now=NOW, households=6, days=1)
    # One community: every role but the district's (they span several communities).
    assert {login.role for login in summary.logins} == set(Role) - set(DISTRICT_ROLES)
    users = {user.username: user for user in db_session.scalars(select(User))}
    for login in summary.logins:
        user = users[login.username]
        assert user.role is login.role
        assert user.community_id == summary.community_id
        assert verify_password(user.password_hash, login.password)
        assert len(login.password) >= 10
    assert len({login.password for login in summary.logins}) == len(summary.logins)


def test_demo_command_prints_the_logins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gate.demo
    from gate.cli.serving import demo_command

    small = functools.partial(gate.demo.build_demo, households=6, days=1)
    monkeypatch.setattr(gate.demo, "build_demo", small)

    env = {
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
        "CHECKPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    result = CliRunner().invoke(demo_command, ["--no-serve"], env=env)
    assert result.exit_code == 0, result.output
    for role in set(Role) - set(DISTRICT_ROLES):
        line = re.search(rf"^\s+{role.value}\s+(\S+)\s+\({role.value}\)$", result.output, re.M)
        assert line, result.output
