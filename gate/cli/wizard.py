"""``checkpoint setup``: an interactive, Chinese-first wizard for a new site.

It asks, one question at a time, for the community (name, time zone, address), its gates,
a rules template and the first administrator, shows what it will create, and creates it
all in one job (one commit: everything or nothing), with a signing key. Then it prints the
next steps (import, issue, print, enrol). Each answer is checked when it is given, so a bad
one is asked again rather than failing at the end.

Scripts use the non-interactive commands instead (``checkpoint community create``,
``gates add``, ``rules set``, ``users create-admin``, ``keys create``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from gate.cli.support import actor_option, office_job, translate
from gate.rules.templates import DEFAULT_TEMPLATE, RULE_TEMPLATES

MAX_GATES = 20


@dataclass
class SiteAnswers:
    """What the wizard was told."""

    community_name: str = ""
    timezone: str = ""
    address: str = ""
    gates: list[str] = field(default_factory=list)
    template: str = DEFAULT_TEMPLATE
    username: str = ""
    display_name: str = ""
    password: str = ""


def _nonempty(limit: int) -> Any:
    def check(value: str) -> str:
        value = value.strip()
        if not 1 <= len(value) <= limit:
            raise click.UsageError(f"请输入 1 到 {limit} 个字（required, 1-{limit} characters）")
        return value

    return check


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = value.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.UsageError(
            translate("Unknown time zone %(timezone)s (e.g. Asia/Shanghai).", timezone=value)
        ) from None
    return value


def _template(value: str) -> str:
    names = list(RULE_TEMPLATES)
    value = value.strip()
    if value.isdigit() and 1 <= int(value) <= len(names):
        return names[int(value) - 1]
    if value in RULE_TEMPLATES:
        return value
    raise click.UsageError(f"请输入 1 到 {len(names)} 的编号（choose 1-{len(names)}）")


def _ask_username(taken: set[str]) -> str:
    from gate.accounts.operations import USERNAME_PATTERN, normalize_username

    def check(value: str) -> str:
        name = normalize_username(value)
        if not USERNAME_PATTERN.fullmatch(name):
            raise click.UsageError(
                translate("A username is 2-64 characters: letters a-z, digits, '.', '_' or '-'.")
            )
        if name in taken:
            raise click.UsageError(
                translate("The username %(username)s is already taken.", username=name)
            )
        return name

    return str(click.prompt("管理员用户名（登录名）", default="admin", value_proc=check))


def _ask_password(username: str) -> str:
    from gate.accounts.operations import ACCOUNT_MESSAGES
    from gate.accounts.passwords import PasswordPolicyError, check_policy

    while True:
        password = str(
            click.prompt(
                "管理员密码（至少 10 个字符）",
                hide_input=True,
                confirmation_prompt="再输入一次密码",
            )
        )
        try:
            check_policy(password, username=username)
        except PasswordPolicyError as exc:
            message = ACCOUNT_MESSAGES.get(exc.code, str(exc))
            click.echo(f"错误：{translate(message, **exc.params)}", err=True)
            continue
        return password


def _ask(default_timezone: str, taken: set[str]) -> SiteAnswers:
    answers = SiteAnswers()
    click.echo("")
    click.echo("【1/4】小区（社区）")
    answers.community_name = str(click.prompt("小区名称", value_proc=_nonempty(100)))
    answers.timezone = str(click.prompt("时区", default=default_timezone, value_proc=_timezone))
    answers.address = str(click.prompt("地址（可留空）", default="", show_default=False)).strip()
    click.echo("")
    click.echo("【2/4】出入口（扫码设备安装在出入口）")
    answers.gates.append(str(click.prompt("出入口名称", default="南门", value_proc=_nonempty(100))))
    while len(answers.gates) < MAX_GATES:
        more = str(
            click.prompt(
                "再加一个出入口？输入名称，直接回车表示不加", default="", show_default=False
            )
        ).strip()
        if not more:
            break
        answers.gates.append(more[:100])
    click.echo("")
    click.echo("【3/4】出行规则")
    names = list(RULE_TEMPLATES)
    for number, name in enumerate(names, start=1):
        click.echo(f"  {number}. {RULE_TEMPLATES[name][0]}（{name}）")
    default_number = str(names.index(DEFAULT_TEMPLATE) + 1)
    answers.template = str(
        click.prompt("选择规则模板", default=default_number, value_proc=_template)
    )
    click.echo("")
    click.echo("【4/4】第一个管理员账号")
    answers.username = _ask_username(taken)
    answers.display_name = str(
        click.prompt("管理员姓名（可留空）", default="", show_default=False)
    ).strip()
    answers.password = _ask_password(answers.username)
    return answers


def _summary(answers: SiteAnswers) -> None:
    click.echo("")
    click.echo("将创建：")
    click.echo(f"  小区：{answers.community_name}（时区 {answers.timezone}）")
    if answers.address:
        click.echo(f"  地址：{answers.address}")
    click.echo(f"  出入口：{'、'.join(answers.gates)}")
    click.echo(f"  规则：{RULE_TEMPLATES[answers.template][0]}")
    click.echo(f"  管理员：{answers.username}")


@click.command(
    "setup",
    help=(
        "Interactive first-time setup in Chinese: asks for the community, its gates, a rules\n"
        "template and the first administrator, creates them (and a signing key) in one go,\n"
        "then prints the next steps. Scripts use `community create`, `gates add`, `rules set`,\n"
        "`users create-admin` and `keys create` instead.\n\n"
        "交互式首次设置：依次询问小区、出入口、出行规则和第一个管理员账号，一次创建完成，\n"
        "然后提示下一步（导入住户、签发、打印出入证、登记扫码设备）。\n\n"
        "Example: checkpoint setup"
    ),
)
@actor_option
def setup_command(actor: str) -> None:
    """The setup wizard."""
    from gate.migrations import current_revision, upgrade
    from gate.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        "欢迎使用 Checkpoint 首次设置。按回车使用方括号中的默认值，Ctrl-C 随时退出（不会保存）。"
    )
    if current_revision(settings.database_url) is None:
        click.echo("数据库是空的：正在建表……")
        upgrade(settings.database_url)
    answers = _ask(settings.timezone, _taken_usernames())
    _summary(answers)
    if not click.confirm("确认创建？", default=True):
        click.echo("已取消，什么也没有保存。")
        return
    community_name, community_id = _create(answers, actor)
    _next_steps(community_name, community_id)


def _taken_usernames() -> set[str]:
    from gate.accounts.operations import all_usernames

    with office_job(writes=False) as job:
        return set(all_usernames(job.session))


def _create(answers: SiteAnswers, actor: str) -> tuple[str, int]:
    from gate.accounts.models import Role
    from gate.accounts.operations import AccountError, create_user
    from gate.community.operations import save_rules
    from gate.community.setup import SetupError, create_community
    from gate.devices.gates import GateError, add_gate
    from gate.rules.templates import template_rules
    from gate.signing.operations import create_signing_key

    now = datetime.now(UTC)
    with office_job(writes=True) as job:
        session = job.session
        try:
            community = create_community(
                session,
                name=answers.community_name,
                timezone=answers.timezone,
                code=None,
                actor=actor,
                now=now,
            )
            community.address = answers.address[:200] or None
            for name in answers.gates:
                add_gate(session, community, name=name, code=None, actor=actor)
            save_rules(
                session,
                community,
                template_rules(answers.template, community.timezone),
                actor=actor,
            )
            create_user(
                session,
                community_id=community.id,
                username=answers.username,
                password=answers.password,
                role=Role.ADMIN,
                actor=actor,
                display_name=answers.display_name or None,
            )
        except (SetupError, GateError, AccountError) as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        # Last: its private key file is written outside the transaction.
        record = create_signing_key(
            session, community_id=community.id, keys_dir=job.settings.keys_dir, actor=actor, now=now
        )
        click.echo("")
        click.echo(f"已创建小区 {community.name}（编号 {community.id}，代码 {community.code}）")
        click.echo(f"已创建签名密钥 {record.key_id}（私钥文件 {record.private_key_path}）")
        return community.name, community.id


def _next_steps(name: str, community_id: int) -> None:
    c = f"--community {community_id}"
    click.echo("")
    click.echo(f"{name} 已设置完成。下一步：")
    click.echo("  1. 下载住户导入模板并填写：checkpoint households template 住户.xlsx")
    click.echo(f"  2. 导入住户：checkpoint households import 住户.xlsx {c}")
    click.echo(f"  3. 签发出入证：checkpoint passes issue --all {c}")
    click.echo(f"  4. 打印出入证：checkpoint passes print --out 出入证.pdf {c}")
    click.echo(f"  5. 登记扫码设备：checkpoint devices add --gate gate1 {c}")
    click.echo(
        "     然后在出入口的电脑上："
        "checkpoint-scanner enroll --server http://本机地址:5000 --code 登记码"
    )
    click.echo("  6. 启动服务：checkpoint serve --host 0.0.0.0，在浏览器中用管理员账号登录")
