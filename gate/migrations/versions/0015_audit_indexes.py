"""Indexes for the office's audit queries at millions of rows.

Revision ID: 0015_audit_indexes
Revises: 0014_duty_roster
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the revision has content
from alembic import op  # noqa: F401 - used once the revision has content

revision: str = "0015_audit_indexes"
down_revision: str | Sequence[str] | None = "0014_duty_roster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
