"""Vehicles: residents' cars and their vehicle passes.

- ``vehicles``: one household's car by its normalised plate (removed, never deleted).
- ``vehicle_passes``: one row per signed vehicle pass (windscreen card), revocable.

Revision ID: 0012_vehicles
Revises: 0011_visitors
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_vehicles"
down_revision: str | Sequence[str] | None = "0011_visitors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_U32 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", _U32, nullable=False),
        sa.Column("household_id", _U32, nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=64), server_default="", nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_vehicles_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_vehicles_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
    )
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vehicles_community_id_plate"), ["community_id", "plate"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vehicles_household_id"), ["household_id"], unique=False
        )
    op.create_table(
        "vehicle_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.LargeBinary(length=12), nullable=False),
        sa.Column("community_id", _U32, nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("household_id", _U32, nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("length(pass_id) = 12", name=op.f("ck_vehicle_passes_pass_id_length")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_vehicle_passes_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_vehicle_passes_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["signing_keys.key_id"], name=op.f("fk_vehicle_passes_key_id_signing_keys")
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_vehicle_passes_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle_passes")),
        sa.UniqueConstraint("pass_id", name=op.f("uq_vehicle_passes_pass_id")),
    )
    with op.batch_alter_table("vehicle_passes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vehicle_passes_community_id_valid_until"),
            ["community_id", "valid_until"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_vehicle_passes_vehicle_id"), ["vehicle_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vehicle_passes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicle_passes_vehicle_id"))
        batch_op.drop_index(batch_op.f("ix_vehicle_passes_community_id_valid_until"))
    op.drop_table("vehicle_passes")
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicles_household_id"))
        batch_op.drop_index(batch_op.f("ix_vehicles_community_id_plate"))
    op.drop_table("vehicles")
