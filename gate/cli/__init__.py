"""The ``checkpoint`` command: one click group; each feature package registers its own commands."""

from __future__ import annotations

import click


@click.group(
    help=(
        "Checkpoint: the office side of the gate pass service.\n\n"
        "Example: checkpoint demo   (a demo compound on SQLite, served on http://127.0.0.1:5000)"
    )
)
def cli() -> None:
    """Root command group."""


def _register_commands() -> None:
    # Imported here so that each feature owns its commands and `--help` stays fast.
    from gate.cli.accounts import users_group
    from gate.cli.audit import audit_group
    from gate.cli.crossings import crossings_group
    from gate.cli.db import db_group
    from gate.cli.errands import errands_group
    from gate.cli.households import households_group
    from gate.cli.issuing import passes_group
    from gate.cli.links import link_command  # noqa: F401  (passes link, community rotating-codes)
    from gate.cli.privacy import privacy_group
    from gate.cli.roster import roster_group
    from gate.cli.serving import demo_command, serve_command
    from gate.cli.setup import community_group, devices_group, gates_group, rules_group
    from gate.cli.signing import keys_group
    from gate.cli.supervisors import supervisors_group
    from gate.cli.vehicles import vehicles_group
    from gate.cli.visitors import visitors_group
    from gate.cli.wizard import setup_command
    from gate.cli.zones import zones_group

    for command in (
        setup_command,
        db_group,
        community_group,
        gates_group,
        rules_group,
        devices_group,
        keys_group,
        households_group,
        passes_group,
        crossings_group,
        audit_group,
        users_group,
        supervisors_group,
        visitors_group,
        vehicles_group,
        errands_group,
        privacy_group,
        roster_group,
        zones_group,
        demo_command,
        serve_command,
    ):
        cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    cli()
