"""Lockdown zones (封控区/管控区/防范区) and per-person counting.

Revision ID: 0010_lockdown_zones
Revises: 0009_crossing_subjects
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the revision has content
from alembic import op  # noqa: F401 - used once the revision has content

revision: str = "0010_lockdown_zones"
down_revision: str | Sequence[str] | None = "0009_crossing_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
