"""Letting the data go: retention per community and chain bases after a purge.

- ``community_retention``: days crossings are kept after the lockdown ends, when it ended.
- ``chain_bases``: per gate, the last purged row (seq, hash) and the signed checkpoint that
  closed the log before the purge; verification starts there.

Revision ID: 0008_privacy_retention
Revises: 0007_field_and_performance
Create Date: 2026-12-04 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_privacy_retention"
down_revision: str | Sequence[str] | None = "0007_field_and_performance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_retention",
        sa.Column(
            "community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("retention_days", sa.Integer(), server_default=sa.text("30"), nullable=False),
        sa.Column("lockdown_ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("last_purge_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_community_retention_community_id_communities"),
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_retention")),
    )
    op.create_table(
        "chain_bases",
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("base_seq", sa.BigInteger(), nullable=False),
        sa.Column("base_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_at", sa.DateTime(), nullable=False),
        sa.Column("checkpoint_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gate_id"], ["gates.id"], name=op.f("fk_chain_bases_gate_id_gates")
        ),
        sa.PrimaryKeyConstraint("gate_id", name=op.f("pk_chain_bases")),
    )


def downgrade() -> None:
    op.drop_table("chain_bases")
    op.drop_table("community_retention")
