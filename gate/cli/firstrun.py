"""The first run's setup link on the terminal: ``checkpoint serve`` prints it when the
database has no account yet (:func:`print_setup_link`), and ``checkpoint users setup-link``
prints a fresh one (the previous unused link stops working)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gate.cli.support import office_job


def print_setup_link(base_url: str) -> str | None:
    """Print a one-time setup link under ``base_url`` when the database has no account yet
    (for ``checkpoint serve``); return it, or None when the first run is over."""
    from gate.accounts.firstrun import SETUP_TOKEN_TTL, setup_link_if_needed

    with office_job(writes=True) as job:
        link = setup_link_if_needed(job.session, base_url, now=datetime.now(UTC))
    if link is None:
        return None
    hours = int(SETUP_TOKEN_TTL.total_seconds() // 3600)
    click.echo("")
    click.echo("还没有任何账号。请在浏览器中打开下面的一次性设置链接，创建管理员和小区：")
    click.echo("(No account yet: open this one-time setup link to create the administrator.)")
    click.echo(f"    {link}")
    click.echo(f"此链接 {hours} 小时内有效，只能使用一次。")
    click.echo("")
    return link


@click.command(
    "setup-link",
    help=(
        "Print a new one-time setup link for the first run in the browser (only while the\n"
        "database has no account; the previous unused link stops working).\n\n"
        "打印首次设置的一次性链接（仅在还没有任何账号时）。\n\n"
        "Example: checkpoint users setup-link --base-url http://192.168.1.10:5000"
    ),
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="Where the office's browser reaches the server.",
)
def setup_link_command(base_url: str) -> None:
    """Print a setup link."""
    if print_setup_link(base_url) is None:
        raise click.ClickException(
            "已有账号，首次设置已结束：请登录，或用 checkpoint users create 添加用户"
            "（the first run is over: an account exists）"
        )
