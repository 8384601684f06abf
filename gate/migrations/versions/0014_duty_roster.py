"""Duty shifts at the gates (值守排班): ``duty_shifts`` and ``duty_assignments``.

Revision ID: 0014_duty_roster
Revises: 0013_errands
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_duty_roster"
down_revision: str | Sequence[str] | None = "0013_errands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

U32 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "duty_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", U32, nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("needs_supervisor", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_duty_shifts_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_duty_shifts_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["gate_id"], ["gates.id"], name=op.f("fk_duty_shifts_gate_id_gates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shifts")),
        sa.UniqueConstraint("gate_id", "starts_at", name=op.f("uq_duty_shifts_gate_id_starts_at")),
    )
    op.create_index(
        op.f("ix_duty_shifts_community_id_starts_at"),
        "duty_shifts",
        ["community_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "duty_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=32), nullable=True),
        sa.Column("duty", sa.String(length=16), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL AND name IS NOT NULL) OR (user_id IS NOT NULL AND name IS NULL)",
            name=op.f("ck_duty_assignments_account_or_name"),
        ),
        sa.CheckConstraint(
            "duty IN ('volunteer', 'supervisor')", name=op.f("ck_duty_assignments_duty")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["duty_shifts.id"], name=op.f("fk_duty_assignments_shift_id_duty_shifts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_duty_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_assignments")),
        sa.UniqueConstraint("shift_id", "name", name=op.f("uq_duty_assignments_shift_id_name")),
        sa.UniqueConstraint(
            "shift_id", "user_id", name=op.f("uq_duty_assignments_shift_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_duty_assignments_shift_id"), "duty_assignments", ["shift_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_duty_assignments_shift_id"), table_name="duty_assignments")
    op.drop_table("duty_assignments")
    op.drop_index(op.f("ix_duty_shifts_community_id_starts_at"), table_name="duty_shifts")
    op.drop_table("duty_shifts")
