"""Reserved for indexes and field practices; so far it holds:

- ``gates.closed_at``: when the office closed a gate (``checkpoint gates close``, the site
  page); NULL while it is open.

Revision ID: 0007_field_and_performance
Revises: 0006_household_registry
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_field_and_performance'
down_revision: str | Sequence[str] | None = '0006_household_registry'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('gates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('gates', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
