"""Setting up a site from nothing, scriptably: ``checkpoint community``, ``gates``,
``devices`` and ``rules``.

Each command is one job with one commit (``office_job``); the work is done by the feature
packages (``gate.community.setup``, ``gate.devices``, ``gate.rules.templates``), which
record their own audit events. Messages are Chinese (the UI catalogue).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.errors import N_
from gate.rules.templates import RULE_TEMPLATES

if TYPE_CHECKING:
    from passes import RuleSetError

_TEMPLATES = click.Choice(sorted(RULE_TEMPLATES))


def _now() -> datetime:
    return datetime.now(UTC)


# --- community ------------------------------------------------------------------------------


@click.group(
    "community",
    help=(
        "Communities (小区/社区): create one to start a real site, list them.\n\n"
        "Example: checkpoint community create --name 幸福里小区 --code xfl"
    ),
)
def community_group() -> None:
    """Community commands."""


@community_group.command(
    "create",
    help=(
        "Create a community with the default rules (三天一出) and print its id. The code is\n"
        "what --community takes (default: c<id>).\n\n"
        "Example: checkpoint community create --name 幸福里小区 --code xfl "
        "--timezone Asia/Shanghai"
    ),
)
@click.option("--name", required=True, help="The community's name, as the office says it.")
@click.option("--code", help="Short code: a-z, 0-9, '-', '_' (default: c<id>).")
@click.option("--timezone", help="IANA time zone (default: CHECKPOINT_TIMEZONE).")
@actor_option
def community_create(name: str, code: str | None, timezone: str | None, actor: str) -> None:
    """Create a community."""
    from gate.community.setup import SetupError, create_community

    with office_job(writes=True) as job:
        try:
            community = create_community(
                job.session,
                name=name,
                code=code,
                timezone=timezone or job.settings.timezone,
                actor=actor,
                now=_now(),
            )
        except SetupError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        click.echo(
            f"已创建小区 {community.name}：编号 {community.id}，代码 {community.code}，"
            f"时区 {community.timezone}（community created）"
        )
        click.echo(str(community.id))


@community_group.command("list", help="List the communities.\n\nExample: checkpoint community list")
def community_list() -> None:
    """List communities."""
    from gate.community.setup import all_communities

    with office_job(writes=False) as job:
        for community in all_communities(job.session):
            click.echo(f"{community.id}\t{community.code}\t{community.timezone}\t{community.name}")


# --- gates ----------------------------------------------------------------------------------


@click.group(
    "gates",
    help=(
        "Gates (出入口) of a community: add, list, rename, close.\n\n"
        "Example: checkpoint gates add --community xfl --name 南门 --code south"
    ),
)
def gates_group() -> None:
    """Gate commands."""


def _gate_error(exc: Exception) -> click.ClickException:
    message_id = getattr(exc, "message_id", str(exc))
    return click.ClickException(translate(message_id, **getattr(exc, "params", {})))


@gates_group.command(
    "add",
    help=(
        "Add a gate and print its code.\n\n"
        "Example: checkpoint gates add --community xfl --name 南门 --code south"
    ),
)
@community_option
@click.option("--name", required=True, help="What the office calls the gate (e.g. 南门).")
@click.option("--code", help="Short code: a-z, 0-9, '-', '_' (default: gate<n>).")
@actor_option
def gates_add(community_code: str | None, name: str, code: str | None, actor: str) -> None:
    """Add a gate."""
    from gate.devices.gates import GateError, add_gate

    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            gate = add_gate(job.session, community, name=name, code=code, actor=actor)
        except GateError as exc:
            raise _gate_error(exc) from None
        click.echo(f"已添加出入口 {gate.name}（代码 {gate.code}）（gate added）")


@gates_group.command(
    "list", help="List the gates and their devices.\n\nExample: checkpoint gates list"
)
@community_option
def gates_list(community_code: str | None) -> None:
    """List gates."""
    from gate.devices.queries import gates_with_devices

    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        for gate in gates_with_devices(job.session, community.id):
            active = sum(1 for device in gate.devices if device.revoked_at is None)
            state = "已关闭" if gate.closed_at is not None else "开放"
            click.echo(f"{gate.code}\t{gate.name}\t{state}\t扫码设备 {active} 台")


@gates_group.command(
    "rename",
    help="Rename a gate.\n\nExample: checkpoint gates rename --gate south --name 南大门",
)
@community_option
@click.option("--gate", "gate_code", required=True, help="The gate's code.")
@click.option("--name", required=True, help="The new name.")
@actor_option
def gates_rename(community_code: str | None, gate_code: str, name: str, actor: str) -> None:
    """Rename a gate."""
    from gate.devices.gates import GateError, find_gate, rename_gate

    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            rename_gate(
                job.session, find_gate(job.session, community, gate_code), name=name, actor=actor
            )
        except GateError as exc:
            raise _gate_error(exc) from None
        click.echo(f"出入口 {gate_code} 已改名为 {name}（gate renamed）")


@gates_group.command(
    "close",
    help=(
        "Close a gate (closed management keeps one entrance open): its scanners are revoked\n"
        "at once and it takes no new one; its log and chain stay. `--reopen` opens it again.\n\n"
        'Example: checkpoint gates close --gate north --reason "只留南门"'
    ),
)
@community_option
@click.option("--gate", "gate_code", required=True, help="The gate's code.")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--reopen", is_flag=True, help="Open a closed gate again.")
@actor_option
def gates_close(
    community_code: str | None, gate_code: str, reason: str | None, reopen: bool, actor: str
) -> None:
    """Close (or reopen) a gate."""
    from gate.devices.gates import GateError, close_gate, find_gate, reopen_gate

    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            gate = find_gate(job.session, community, gate_code)
            if reopen:
                reopen_gate(job.session, gate, actor=actor, reason=reason)
                click.echo(translate(N_("Gate %(gate)s is open again."), gate=gate.name))
                return
            revoked = close_gate(job.session, gate, actor=actor, now=_now(), reason=reason)
        except GateError as exc:
            raise _gate_error(exc) from None
        click.echo(
            translate(
                N_("Gate %(gate)s closed; %(count)d scanner(s) revoked."),
                gate=gate.name,
                count=len(revoked),
            )
        )


# --- devices --------------------------------------------------------------------------------


@click.group(
    "devices",
    help=(
        "Scanner devices at a gate: add one (prints its one-time enrolment code), list,\n"
        "revoke.\n\nExample: checkpoint devices add --gate south --name 南门扫码机"
    ),
)
def devices_group() -> None:
    """Device commands."""


@devices_group.command(
    "add",
    help=(
        "Register a scanner at a gate and print its one-time enrolment code (valid 24 h):\n"
        "checkpoint-scanner enroll --server URL --code CODE\n\n"
        "Example: checkpoint devices add --gate south --name 南门扫码机"
    ),
)
@community_option
@click.option("--gate", "gate_code", required=True, help="The gate's code.")
@click.option("--name", help="A name for the device (default: <gate name>扫码机).")
@actor_option
def devices_add(community_code: str | None, gate_code: str, name: str | None, actor: str) -> None:
    """Add a device."""
    from gate.devices.gates import GateError, ensure_open, find_gate
    from gate.devices.operations import create_device

    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            gate = ensure_open(find_gate(job.session, community, gate_code))
        except GateError as exc:
            raise _gate_error(exc) from None
        new = create_device(
            job.session, gate=gate, name=name or f"{gate.name}扫码机", actor=actor, now=_now()
        )
        click.echo(
            f"已登记扫码设备 {new.device.id}（{new.device.name}），一次性登记码（24 小时内有效）："
        )
        click.echo(new.enrolment_code)


@devices_group.command("list", help="List the scanner devices.\n\nExample: checkpoint devices list")
@community_option
def devices_list(community_code: str | None) -> None:
    """List devices."""
    from gate.devices.queries import gates_with_devices

    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        for gate in gates_with_devices(job.session, community.id):
            for device in gate.devices:
                if device.revoked_at is not None:
                    state = "已吊销"
                elif device.token_hash is None:
                    state = "待登记"
                else:
                    state = "使用中"
                seen = device.last_seen_at.isoformat() if device.last_seen_at else "-"
                click.echo(f"{device.id}\t{gate.code}\t{state}\t{seen}\t{device.name}")


@devices_group.command(
    "revoke",
    help=(
        "Revoke a device: its token stops working at once (a lost or stolen phone).\n\n"
        "Example: checkpoint devices revoke --device 3 --reason 手机丢失"
    ),
)
@community_option
@click.option("--device", "device_id", type=int, required=True, help="The device's id.")
@click.option("--reason", required=True, help="Why, for the audit log.")
@actor_option
def devices_revoke(community_code: str | None, device_id: int, reason: str, actor: str) -> None:
    """Revoke a device."""
    from gate.devices.operations import revoke_device
    from gate.devices.queries import device_of

    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        device = device_of(job.session, device_id, community.id)
        if device is None:
            raise click.ClickException(f"本小区没有扫码设备 {device_id}（no such device）")
        if revoke_device(job.session, device, actor=actor, reason=reason, now=_now()):
            click.echo(f"扫码设备 {device_id} 已吊销（device revoked）")
        else:
            click.echo(f"扫码设备 {device_id} 早已吊销（already revoked）")


# --- rules ----------------------------------------------------------------------------------


@click.group(
    "rules",
    help=(
        "The community's outing rules: set them from a template or a JSON file, show them.\n\n"
        "Example: checkpoint rules set --template two-days"
    ),
)
def rules_group() -> None:
    """Rules commands."""


@rules_group.command(
    "set",
    help=(
        "Save new rules as the next version: a template (three-days 三天一出, two-days\n"
        "两天一出, daily 每天一次, closed 全封闭, unlimited 不限) or a rules JSON file.\n\n"
        "Example: checkpoint rules set --community xfl --template two-days"
    ),
)
@community_option
@click.option("--template", type=_TEMPLATES, help="A named template.")
@click.option(
    "--file",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A rules JSON file (as `checkpoint rules show --json` prints).",
)
@click.option("--reason", help="Why, for the audit log.")
@actor_option
def rules_set(
    community_code: str | None,
    template: str | None,
    rules_file: Path | None,
    reason: str | None,
    actor: str,
) -> None:
    """Set the rules."""
    from gate.community.operations import save_rules
    from gate.rules.templates import template_rules
    from passes import RuleSetError, rules_from_json

    if (template is None) == (rules_file is None):
        raise click.UsageError("give exactly one of --template and --file")
    text = rules_file.read_text(encoding="utf-8") if rules_file is not None else None
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            if text is not None:
                rules = rules_from_json(text)
            else:
                rules = template_rules(template or "", community.timezone)
        except RuleSetError as exc:
            raise click.ClickException(_rules_error(exc)) from None
        record = save_rules(job.session, community, rules, actor=actor, reason=reason)
        click.echo(f"规则第 {record.version} 版已生效：{rules.describe_quota()}（rules saved）")


def _rules_error(exc: RuleSetError) -> str:
    """The refusal in Chinese: the problem's message (the rules page's), naming the field."""
    from gate.console.rules import RULE_MESSAGES

    message_id = RULE_MESSAGES.get(exc.problem)
    if message_id is None:  # a problem code newer than the messages: name the field at least
        return translate("Field %(field)s: check its value.", field=exc.field)
    return translate(message_id, field=exc.field, **exc.params)


@rules_group.command(
    "show", help="Show the rules in force.\n\nExample: checkpoint rules show --json"
)
@community_option
@click.option("--json", "as_json", is_flag=True, help="Print the rules JSON.")
def rules_show(community_code: str | None, as_json: bool) -> None:
    """Show the rules."""
    from gate.community.context import current_rules

    with office_job(writes=False) as job:
        community = pick_community(job.session, community_code)
        rules = current_rules(job.session, community)
        if as_json:
            click.echo(rules.to_json())
            return
        click.echo(f"第 {community.current_rule_version} 版：{rules.describe_quota()}")
        fever = rules.temperature.fever_threshold_tenths / 10
        click.echo(f"同时外出人数上限：{rules.max_out_at_once}；发热：{fever:.1f} °C 起禁止")
