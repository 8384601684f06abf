"""Visitors, walk-ins and deliveries at the gate.

- ``visitor_passes``: one row per signed visitor pass (kind, who and why, window, single
  use, used, revoked).
- ``walk_ins``: one row per person without a pass registered at a gate (kind, plate, phone,
  purpose, outcome), next to its crossing.

Revision ID: 0011_visitors
Revises: 0010_lockdown_zones
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_visitors"
down_revision: str | Sequence[str] | None = "0010_lockdown_zones"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMUNITY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "visitor_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.LargeBinary(length=12), nullable=False),
        sa.Column("community_id", _COMMUNITY_ID, nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("single_use", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_crossing_id", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("length(pass_id) = 12", name=op.f("ck_visitor_passes_pass_id_length")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_visitor_passes_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["signing_keys.key_id"], name=op.f("fk_visitor_passes_key_id_signing_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_passes")),
        sa.UniqueConstraint("pass_id", name=op.f("uq_visitor_passes_pass_id")),
    )
    with op.batch_alter_table("visitor_passes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visitor_passes_community_id_valid_until"),
            ["community_id", "valid_until"],
            unique=False,
        )
    op.create_table(
        "walk_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", _COMMUNITY_ID, nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("crossing_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "turned_back",
                "handed_over",
                name="walk_in_outcome",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_walk_ins_community_id_communities")
        ),
        sa.ForeignKeyConstraint(["gate_id"], ["gates.id"], name=op.f("fk_walk_ins_gate_id_gates")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_walk_ins_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_walk_ins")),
        sa.UniqueConstraint("client_id", name=op.f("uq_walk_ins_client_id")),
        sa.UniqueConstraint("crossing_id", name=op.f("uq_walk_ins_crossing_id")),
    )
    with op.batch_alter_table("walk_ins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_walk_ins_community_id_registered_at"),
            ["community_id", "registered_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("walk_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_walk_ins_community_id_registered_at"))
    op.drop_table("walk_ins")
    with op.batch_alter_table("visitor_passes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visitor_passes_community_id_valid_until"))
    op.drop_table("visitor_passes")
