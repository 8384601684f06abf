"""Quarantine errands (代购/代办): squads of volunteers, and the households' requests.

- ``errand_squads``, ``errand_squad_members``: named groups of volunteer accounts.
- ``errands``: one request of a quarantined household, its assignee (an account or a
  squad), status and times.

Revision ID: 0013_errands
Revises: 0012_vehicles
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_errands"
down_revision: str | Sequence[str] | None = "0012_vehicles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

U32 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "errand_squads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", U32, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_errand_squads_community_id_communities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errand_squads")),
        sa.UniqueConstraint("community_id", "name", name=op.f("uq_errand_squads_community_id_name")),
    )
    op.create_table(
        "errand_squad_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("squad_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["squad_id"],
            ["errand_squads.id"],
            name=op.f("fk_errand_squad_members_squad_id_errand_squads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_errand_squad_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errand_squad_members")),
        sa.UniqueConstraint(
            "squad_id", "user_id", name=op.f("uq_errand_squad_members_squad_id_user_id")
        ),
    )
    with op.batch_alter_table("errand_squad_members") as batch:
        batch.create_index(batch.f("ix_errand_squad_members_user_id"), ["user_id"], unique=False)
    op.create_table(
        "errands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", U32, nullable=False),
        sa.Column("household_id", U32, nullable=False),
        sa.Column(
            "kind", _enum("errand_kind", ("groceries", "medicine", "rubbish", "other")), nullable=False
        ),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column(
            "status",
            _enum("errand_status", ("new", "accepted", "delivered", "cancelled")),
            nullable=False,
        ),
        sa.Column("source", _enum("errand_source", ("office", "resident")), nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("squad_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("accepted_by_user_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_by", sa.String(length=64), nullable=True),
        sa.Column("delivery_note", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "assignee_user_id IS NULL OR squad_id IS NULL", name=op.f("ck_errands_one_assignee")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_errands_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_errands_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"], ["users.id"], name=op.f("fk_errands_assignee_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["squad_id"], ["errand_squads.id"], name=op.f("fk_errands_squad_id_errand_squads")
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_user_id"],
            ["users.id"],
            name=op.f("fk_errands_accepted_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errands")),
    )
    with op.batch_alter_table("errands") as batch:
        batch.create_index(
            batch.f("ix_errands_community_id_status_created_at"),
            ["community_id", "status", "created_at"],
            unique=False,
        )
        batch.create_index(batch.f("ix_errands_household_id"), ["household_id"], unique=False)
        batch.create_index(
            batch.f("ix_errands_assignee_user_id"), ["assignee_user_id"], unique=False
        )
        batch.create_index(batch.f("ix_errands_squad_id"), ["squad_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("errands") as batch:
        batch.drop_index(batch.f("ix_errands_squad_id"))
        batch.drop_index(batch.f("ix_errands_assignee_user_id"))
        batch.drop_index(batch.f("ix_errands_household_id"))
        batch.drop_index(batch.f("ix_errands_community_id_status_created_at"))
    op.drop_table("errands")
    with op.batch_alter_table("errand_squad_members") as batch:
        batch.drop_index(batch.f("ix_errand_squad_members_user_id"))
    op.drop_table("errand_squad_members")
    op.drop_table("errand_squads")
