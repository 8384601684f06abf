"""Reserved for indexes and field practices.

(Reserved in the migration chain; filled in by the change that needs it. Until then it
changes nothing.)

Revision ID: 0007_field_and_performance
Revises: 0006_household_registry
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

revision: str = '0007_field_and_performance'
down_revision: str | Sequence[str] | None = '0006_household_registry'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
