"""Phones used as gates: ``phone_gates``, one row per (community, the phone's own random id)
with its gate, the account logged in on it, last contact and last reported backlog
(``gate.devices.phones``).

Revision ID: 0017_phone_gates
Revises: 0016_quarter_counts
Create Date: 2026-12-05 07:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_phone_gates"
down_revision: str | Sequence[str] | None = "0016_quarter_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

U32 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "phone_gates",
        sa.Column("community_id", U32, nullable=False),
        sa.Column("phone_id", sa.String(length=36), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_backlog", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_phone_gates_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["gate_id"], ["gates.id"], name=op.f("fk_phone_gates_gate_id_gates")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_phone_gates_user_id_users")
        ),
        sa.PrimaryKeyConstraint("community_id", "phone_id", name=op.f("pk_phone_gates")),
    )


def downgrade() -> None:
    op.drop_table("phone_gates")
