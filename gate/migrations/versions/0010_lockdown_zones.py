"""Lockdown zones (封控区/管控区/防范区) and per-person counting.

The ``zone_locks`` table: one level over one building, compound or grid for a period. (Per-person
counting needs no column: it is a rule option, and crossings already carry ``people``.)

Revision ID: 0010_lockdown_zones
Revises: 0009_crossing_subjects
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_lockdown_zones"
down_revision: str | Sequence[str] | None = "0009_crossing_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMUNITY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ONE_PLACE = (
    "(scope = 'building' AND building_id IS NOT NULL AND compound_id IS NULL AND grid_id IS NULL)"
    " OR (scope = 'compound' AND compound_id IS NOT NULL AND building_id IS NULL"
    " AND grid_id IS NULL)"
    " OR (scope = 'grid' AND grid_id IS NOT NULL AND building_id IS NULL AND compound_id IS NULL)"
)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "zone_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", _COMMUNITY_ID, nullable=False),
        sa.Column(
            "level", _enum("zone_level", "sealed", "controlled", "precaution"), nullable=False
        ),
        sa.Column("scope", _enum("zone_scope", "building", "compound", "grid"), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("compound_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(_ONE_PLACE, name=op.f("ck_zone_locks_one_place")),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_zone_locks_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_zone_locks_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["buildings.id"], name=op.f("fk_zone_locks_building_id_buildings")
        ),
        sa.ForeignKeyConstraint(
            ["compound_id"], ["compounds.id"], name=op.f("fk_zone_locks_compound_id_compounds")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_zone_locks_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_locks")),
    )
    with op.batch_alter_table("zone_locks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zone_locks_community_id_ends_at"),
            ["community_id", "ends_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("zone_locks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_locks_community_id_ends_at"))
    op.drop_table("zone_locks")
