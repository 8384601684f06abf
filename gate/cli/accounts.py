"""``checkpoint users``: create the first administrator, create users, disable, change roles.

There is no default password: a password is typed twice at a prompt, or read from the first
line of standard input with ``--password-stdin`` (for scripts), or generated and printed once
with ``--generate-password``. Every change is audited.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gate.accounts.models import Role
from gate.accounts.passwords import generate_password as new_password
from gate.cli.firstrun import setup_link_command
from gate.cli.support import (
    actor_option,
    community_option,
    office_job,
    pick_community,
    translate,
)
from gate.web.labels import ROLE_LABELS

if TYPE_CHECKING:
    from gate.accounts.models import User
    from gate.unit_of_work import DbSession

_F = TypeVar("_F", bound=Callable[..., Any])
_ROLES = click.Choice([role.value for role in Role])


@click.group(
    name="users",
    help=(
        "Users of the office and gate web pages (admin, office, auditor, supervisor,\n"
        "volunteer).\n\n"
        "Example: checkpoint users create-admin --community xfl --username admin"
    ),
)
def users_group() -> None:
    """User commands."""


users_group.add_command(setup_link_command)


def _read_password(from_stdin: bool, generate: bool, username: str = "") -> tuple[str, bool]:
    """The new password and whether it was generated (then it must be shown)."""
    if from_stdin and generate:
        raise click.UsageError(
            "--password-stdin 和 --generate-password 只能选一个"
            "（use either --password-stdin or --generate-password）"
        )
    if generate:
        return new_password(username), True
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("标准输入中没有密码（no password on standard input）")
        return line, False
    password = click.prompt(
        "密码（Password）",
        hide_input=True,
        confirmation_prompt="再输入一次密码（Repeat the password）",
        type=str,
    )
    return str(password), False


def _password_options(command: _F) -> _F:
    command = click.option(
        "--generate-password",
        is_flag=True,
        help="Generate a random password and print it once.",
    )(command)
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input (for scripts).",
    )(command)


def _create(
    *,
    community_code: str | None,
    username: str,
    display_name: str | None,
    role: Role,
    password_stdin: bool,
    generate_password: bool,
    actor: str,
) -> None:
    from gate.accounts.operations import AccountError, create_user

    password, generated = _read_password(password_stdin, generate_password, username)
    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        try:
            user = create_user(
                session,
                community_id=community.id,
                username=username,
                password=password,
                role=role,
                actor=actor,
                display_name=display_name,
            )
        except AccountError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        label = translate(ROLE_LABELS[role.value])
        click.echo(f"已在 {community.name} 创建{label} {user.username}（created {role.value}）")
    if generated:
        click.echo(f"初始密码（只显示这一次）：{password}")


@users_group.command(
    "create-admin",
    help=(
        "Create an administrator (may do everything in the web pages). Asks for the password\n"
        "twice unless --password-stdin or --generate-password.\n\n"
        "Example: checkpoint users create-admin --community xfl --username admin"
    ),
)
@community_option
@click.option("--username", required=True, help="Login name (a-z, 0-9, '.', '_', '-').")
@click.option("--display-name", help="Name shown in the pages (default: the username).")
@_password_options
@actor_option
def create_admin(
    community_code: str | None,
    username: str,
    display_name: str | None,
    password_stdin: bool,
    generate_password: bool,
    actor: str,
) -> None:
    """Create an administrator."""
    _create(
        community_code=community_code,
        username=username,
        display_name=display_name,
        role=Role.ADMIN,
        password_stdin=password_stdin,
        generate_password=generate_password,
        actor=actor,
    )


@users_group.command(
    "create",
    help=(
        "Create a user with a role: office, auditor, supervisor, volunteer (or admin).\n\n"
        "Example: checkpoint users create --username li.office --role office "
        "--display-name 李红"
    ),
)
@community_option
@click.option("--username", required=True, help="Login name (a-z, 0-9, '.', '_', '-').")
@click.option("--role", type=_ROLES, required=True, help="What the user may do.")
@click.option("--display-name", help="Name shown in the pages (default: the username).")
@_password_options
@actor_option
def create(
    community_code: str | None,
    username: str,
    role: str,
    display_name: str | None,
    password_stdin: bool,
    generate_password: bool,
    actor: str,
) -> None:
    """Create a user."""
    _create(
        community_code=community_code,
        username=username,
        display_name=display_name,
        role=Role(role),
        password_stdin=password_stdin,
        generate_password=generate_password,
        actor=actor,
    )


@users_group.command(
    "disable",
    help=(
        "Disable a user: they cannot log in and their open sessions end at once. Users are\n"
        "never deleted (the logs name them).\n\n"
        "Example: checkpoint users disable --username wang.volunteer --reason 离岗"
    ),
)
@click.option("--username", required=True)
@click.option("--reason", help="Why, for the audit log.")
@actor_option
def disable(username: str, reason: str | None, actor: str) -> None:
    """Disable a user."""
    from gate.accounts.operations import disable_user, find_user

    with office_job(writes=True) as job:
        session = job.session
        user = find_user(session, username)
        if user is None:
            raise _no_user(username)
        if user.disabled_at is not None:
            click.echo(f"{user.username} 早已停用（already disabled）")
            return
        disable_user(session, user, actor=actor, now=datetime.now(UTC), reason=reason)
        click.echo(f"已停用 {user.username}，其登录已全部失效（disabled）")


@users_group.command(
    "set-role",
    help=(
        "Change a user's role; their open sessions end so the new role applies at once.\n\n"
        "Example: checkpoint users set-role --username wang.volunteer --role supervisor"
    ),
)
@click.option("--username", required=True)
@click.option("--role", type=_ROLES, required=True)
@actor_option
def set_role_command(username: str, role: str, actor: str) -> None:
    """Change a role."""
    from gate.accounts.operations import find_user, set_role

    with office_job(writes=True) as job:
        session = job.session
        user = find_user(session, username)
        if user is None:
            raise _no_user(username)
        set_role(session, user, Role(role), actor=actor)
        label = translate(ROLE_LABELS[role])
        click.echo(f"{user.username} 的角色已改为{label}，需重新登录（role changed to {role}）")


@users_group.command(
    "set-password",
    help=(
        "Set a new password for a user (e.g. a forgotten one); their sessions end.\n\n"
        "Example: checkpoint users set-password --username admin"
    ),
)
@click.option("--username", required=True)
@_password_options
@actor_option
def set_password_command(
    username: str, password_stdin: bool, generate_password: bool, actor: str
) -> None:
    """Set a password."""
    from gate.accounts.operations import AccountError, find_user, set_password

    password, generated = _read_password(password_stdin, generate_password, username)
    with office_job(writes=True) as job:
        session = job.session
        user = find_user(session, username)
        if user is None:
            raise _no_user(username)
        try:
            set_password(session, user, password, actor=actor)
        except AccountError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        click.echo(f"已修改 {user.username} 的密码，其登录已全部失效（password changed）")
    if generated:
        click.echo(f"新密码（只显示这一次）：{password}")


@users_group.command(
    "list",
    help="List the users of a community.\n\nExample: checkpoint users list --community xfl",
)
@community_option
def list_users(community_code: str | None) -> None:
    """List users."""
    from gate.accounts.memberships import community_members

    with office_job(writes=False) as job:
        session = job.session
        community = pick_community(session, community_code)
        for member in community_members(session, community.id):
            user = member.user
            state = "disabled" if user.disabled_at is not None else "active"
            where = "" if member.home else "\tgranted"
            click.echo(f"{user.username}\t{member.role.value}\t{state}\t{user.display_name}{where}")


@users_group.command(
    "grant",
    help=(
        "Give a user a role in one more community (a district's account: a street office\n"
        "or an inspector over several communities). In the user's own community this\n"
        "changes its role. The user's sessions end, so the change applies at once.\n\n"
        "给用户增加一个社区的角色（街道、上级检查等跨社区账号）。\n\n"
        "Example: checkpoint users grant --user zhang.jd --community xfl "
        "--role district_auditor"
    ),
)
@click.option("--user", "username", required=True, help="The user's login name.")
@click.option("--community", "community_code", required=True, help="Community code or id.")
@click.option("--role", type=_ROLES, required=True, help="The user's role there.")
@actor_option
def grant_command(username: str, community_code: str, role: str, actor: str) -> None:
    """Grant a community."""
    from gate.accounts.memberships import grant

    with office_job(writes=True) as job:
        session = job.session
        user = _user_or_fail(session, username)
        community = pick_community(session, community_code)
        outcome = grant(session, user, community, Role(role), actor=actor)
        label = translate(ROLE_LABELS[role])
        if outcome == "unchanged":
            click.echo(f"{user.username} 在 {community.name} 已是{label}（unchanged）")
        else:
            click.echo(f"{user.username} 在 {community.name} 的角色：{label}（granted {role}）")


@users_group.command(
    "revoke",
    help=(
        "Take a community away from a user granted it (not its own community: disable the\n"
        "user for that). The user's sessions end.\n\n"
        "取消用户对某个社区的访问权限。\n\n"
        "Example: checkpoint users revoke --user zhang.jd --community xfl"
    ),
)
@click.option("--user", "username", required=True, help="The user's login name.")
@click.option("--community", "community_code", required=True, help="Community code or id.")
@actor_option
def revoke_command(username: str, community_code: str, actor: str) -> None:
    """Revoke a community."""
    from gate.accounts.memberships import revoke
    from gate.accounts.operations import AccountError

    with office_job(writes=True) as job:
        session = job.session
        user = _user_or_fail(session, username)
        community = pick_community(session, community_code)
        try:
            revoked = revoke(session, user, community, actor=actor)
        except AccountError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        if revoked:
            click.echo(f"已取消 {user.username} 对 {community.name} 的访问（revoked）")
        else:
            click.echo(f"{user.username} 本来就不能访问 {community.name}（nothing to revoke）")


def _user_or_fail(session: DbSession, username: str) -> User:
    from gate.accounts.operations import find_user

    user = find_user(session, username)
    if user is None:
        raise _no_user(username)
    return user


def _no_user(username: str) -> click.ClickException:
    return click.ClickException(
        translate("No user %(username)s: check the username.", username=username)
    )
