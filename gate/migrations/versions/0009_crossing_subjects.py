"""Crossings of more than a household's pass: people counted, visitors, vehicles, shifts.

New columns of ``crossings`` (all hashed only when set, see
``gate.crossings.chain.OPTIONAL_HASHED_FIELDS``, so earlier rows verify unchanged):
``people`` (default 1), ``subject`` and ``subject_id`` (a visitor, walk-in, delivery or
vehicle), ``plate``, ``shift_id``.

Revision ID: 0009_crossing_subjects
Revises: 0008_privacy_retention
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_crossing_subjects"
down_revision: str | Sequence[str] | None = "0008_privacy_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        batch.add_column(
            sa.Column("people", sa.SmallInteger(), server_default=sa.text("1"), nullable=False)
        )
        batch.add_column(sa.Column("subject", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("plate", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("shift_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        for name in ("shift_id", "plate", "subject_id", "subject", "people"):
            batch.drop_column(name)
