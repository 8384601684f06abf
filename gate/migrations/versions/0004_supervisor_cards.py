"""Supervisor cards: signed, revocable cards that let a supervisor override a refusal at the gate.

(Reserved in the migration chain; filled in by the change that needs it. Until then it
changes nothing.)

Revision ID: 0004_supervisor_cards
Revises: 0003_offline_trust
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

revision: str = '0004_supervisor_cards'
down_revision: str | Sequence[str] | None = '0003_offline_trust'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
