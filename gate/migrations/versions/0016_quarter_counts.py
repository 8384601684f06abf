"""Per-hour counts from pre-counted quarter hours: ``crossing_quarter_counts`` and its
watermark ``crossing_rollup`` (``gate.crossings.quarter_counts``).

Nothing is rolled up here: with no watermark every crossing counts live (as before), and the
first ``checkpoint crossings rollup`` counts the existing log once.

Revision ID: 0016_quarter_counts
Revises: 0015_audit_indexes
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_quarter_counts"
down_revision: str | Sequence[str] | None = "0015_audit_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

U32 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "crossing_quarter_counts",
        sa.Column("community_id", U32, nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("crossings", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "community_id",
            "quarter",
            "direction",
            "allowed",
            name=op.f("pk_crossing_quarter_counts"),
        ),
    )
    op.create_table(
        "crossing_rollup",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("last_crossing_id", sa.BigInteger(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossing_rollup")),
    )


def downgrade() -> None:
    op.drop_table("crossing_rollup")
    op.drop_table("crossing_quarter_counts")
