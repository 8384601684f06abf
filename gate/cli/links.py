"""The resident's phone pass from the command line: ``checkpoint passes link`` (issue, re-issue
or revoke resident links per household, printed and as a spreadsheet for the grid worker) and
``checkpoint community rotating-codes on|off``.

One unit of work per command (``office_job``); the operations in
``gate.issuing.resident_links`` and ``gate.issuing.screen_codes`` record the audit events.
Importing this module adds the commands to the ``passes`` and ``community`` groups.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from gate.cli.issuing import _households, _write_atomically, passes_group
from gate.cli.setup import community_group
from gate.cli.support import actor_option, community_option, office_job, pick_community, translate
from gate.unit_of_work import DbSession

if TYPE_CHECKING:
    from gate.community.models import Community
    from gate.households.models import Household

LINK_PATH = "/p/"
"""Where the server serves the resident page (``gate.resident.views``: ``/p/<token>``)."""


def _now() -> datetime:
    return datetime.now(UTC)


def link_url(base_url: str, token: str) -> str:
    """The resident link of ``token`` on the server at ``base_url``."""
    return base_url.rstrip("/") + LINK_PATH + token


def _base_url(option: str | None, setting: str | None) -> str:
    base = option or setting
    if not base:
        raise click.UsageError(
            "give --base-url (the address residents' phones open, e.g. https://pass.example.org)"
            " or set CHECKPOINT_PUBLIC_URL"
        )
    if not base.startswith(("https://", "http://")):
        raise click.UsageError(f"the base URL must start with https:// or http://: {base}")
    return base.rstrip("/")


@passes_group.command(
    "link",
    help=(
        "Issue resident links (the phone pass, /p/<token>) for one household or a whole\n"
        "building and print them; a household's earlier link stops working. --out also\n"
        "writes a spreadsheet of household code and link for the grid worker's WeChat group.\n"
        "--revoke ends the links instead (the passes stay valid).\n\n"
        "Example: checkpoint passes link --building 7 --base-url https://pass.example.org "
        "--out building-7-links.xlsx"
    ),
)
@click.option("--household", "codes", multiple=True, metavar="CODE", help="Repeatable.")
@click.option("--building", metavar="B", help="Building code or name.")
@click.option("--base-url", help="Address residents' phones open [CHECKPOINT_PUBLIC_URL].")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Write an XLSX."
)
@click.option(
    "--cards",
    "cards_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each household's card (PNG) with a second QR 手机出示 opening its link.",
)
@click.option("--revoke", is_flag=True, help="Revoke the households' links instead.")
@click.option("--reason", help="Why (with --revoke), for the audit log.")
@community_option
@actor_option
def link_command(
    codes: tuple[str, ...],
    building: str | None,
    base_url: str | None,
    out_path: Path | None,
    cards_dir: Path | None,
    revoke: bool,
    reason: str | None,
    community_code: str | None,
    actor: str,
) -> None:
    """Issue or revoke resident links."""
    from gate.issuing.resident_links import (
        ResidentLinkError,
        issue_household_links,
        links_workbook,
        revoke_household_links,
    )

    if bool(codes) == (building is not None):
        raise click.UsageError("give --household or --building (exactly one)")
    if revoke and (out_path is not None or cards_dir is not None):
        raise click.UsageError("--out and --cards write issued links: not with --revoke")
    with office_job(writes=True) as job:
        base = None if revoke else _base_url(base_url, job.settings.public_url)
        session = job.session
        community = pick_community(session, community_code)
        households = _households(session, community, codes=codes, building=building)
        try:
            if revoke:
                revoked = revoke_household_links(
                    session, households, actor=actor, now=_now(), reason=reason or ""
                )
            else:
                run = issue_household_links(session, households, actor=actor, now=_now())
        except ResidentLinkError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        if revoke:
            for code in revoked:
                click.echo(f"revoked {code}")
            click.echo(f"已作废 {len(revoked)} 户的手机出入证链接（links revoked）")
            return
        assert base is not None
        rows = [(link.household_code, link_url(base, link.token)) for link in run.links]
        if out_path is not None:
            data = links_workbook(rows, headers=("房号", "手机出入证链接"))
            # Written before the job commits: a file that cannot be written issues nothing.
            _write_atomically(out_path, lambda out: out.write(data))
        if cards_dir is not None:
            _write_cards(session, community, households, dict(rows), cards_dir)
    for code, url in rows:
        click.echo(f"{code}\t{url}")
    if run.without_pass:
        shown = ", ".join(run.without_pass[:20])
        click.echo(
            f"{len(run.without_pass)} 户没有有效出入证，未生成链接（no valid pass）：{shown}"
        )
    if out_path is not None:
        click.echo(f"{len(rows)} 条链接已写入 {out_path}（links written）")


def _writer(data: bytes) -> Callable[[BinaryIO], int]:
    return lambda out: out.write(data)


def _write_cards(
    session: DbSession,
    community: Community,
    households: list[Household],
    links: dict[str, str],
    directory: Path,
) -> None:
    """Each linked household's card as ``<code>.png``, with the 手机出示 QR of its link."""
    from gate.issuing.cards import CardBuilder, usable_passes
    from gate.issuing.operations import IssuingError
    from gate.issuing.printing import render_card_png

    builder = CardBuilder(session, community)
    passes = usable_passes(session, households, _now())
    for household in households:
        url = links.get(household.code)
        if url is None:
            continue
        try:
            card = builder.card(household, passes[household.id], resident_link_url=url)
        except IssuingError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        _write_atomically(directory / f"{household.code}.png", _writer(render_card_png(card)))


@community_group.command(
    "rotating-codes",
    help=(
        "Turn rotating screen codes on or off for the community. When on, the resident's\n"
        "phone page shows only a code that renews every 30 s (screenshots stop working\n"
        "within minutes), never the static pass; printed cards keep working.\n\n"
        "Example: checkpoint community rotating-codes on"
    ),
)
@click.argument("state", type=click.Choice(["on", "off"]))
@community_option
@actor_option
def rotating_codes_command(state: str, community_code: str | None, actor: str) -> None:
    """Turn rotating codes on or off."""
    from gate.issuing.screen_codes import set_rotating_codes

    enabled = state == "on"
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        changed = set_rotating_codes(job.session, community, enabled, actor=actor, now=_now())
        name = community.name
    word = "已开启" if enabled else "已关闭"
    note = "" if changed else "（未变化 unchanged）"
    click.echo(f"{name}：动态码{word}{note}（rotating codes {state}）")
