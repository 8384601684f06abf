"""Visitors, walk-ins and deliveries at the gate.

Revision ID: 0011_visitors
Revises: 0010_lockdown_zones
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the revision has content
from alembic import op  # noqa: F401 - used once the revision has content

revision: str = "0011_visitors"
down_revision: str | Sequence[str] | None = "0010_lockdown_zones"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
