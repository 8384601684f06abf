"""The ``checkpoint-scanner`` command: the process at the gate."""

from __future__ import annotations

import click


@click.group(
    help=(
        "Checkpoint scanner: reads passes at the gate and shows the verdict.\n\n"
        "Example: checkpoint-scanner decode card.png --json"
    )
)
def cli() -> None:
    """Root command group."""


def main() -> None:
    """Console-script entry point."""
    cli()
