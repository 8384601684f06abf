"""Duty shifts at the gates (值守排班).

Revision ID: 0014_duty_roster
Revises: 0013_errands
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the revision has content
from alembic import op  # noqa: F401 - used once the revision has content

revision: str = "0014_duty_roster"
down_revision: str | Sequence[str] | None = "0013_errands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
