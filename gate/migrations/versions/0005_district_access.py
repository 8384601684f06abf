"""District access: an account may hold a role in several communities.

(Reserved in the migration chain; filled in by the change that needs it. Until then it
changes nothing.)

Revision ID: 0005_district_access
Revises: 0004_supervisor_cards
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

revision: str = '0005_district_access'
down_revision: str | Sequence[str] | None = '0004_supervisor_cards'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
