"""Household registry: normalised building names, members and head counts from imports.

(Reserved in the migration chain; filled in by the change that needs it. Until then it
changes nothing.)

Revision ID: 0006_household_registry
Revises: 0005_district_access
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

revision: str = '0006_household_registry'
down_revision: str | Sequence[str] | None = '0005_district_access'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
