"""Vehicles: vehicle passes and plates.

Revision ID: 0012_vehicles
Revises: 0011_visitors
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the revision has content
from alembic import op  # noqa: F401 - used once the revision has content

revision: str = "0012_vehicles"
down_revision: str | Sequence[str] | None = "0011_visitors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
