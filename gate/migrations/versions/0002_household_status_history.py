"""Household status history.

One row per status change of a household (``household_status_changes``), written by the
household operations, so the rules' dry run replays past crossings under the status each
household had then. Backfilled with one row per existing household: its status now, as of
this migration (earlier changes are not reconstructed).

Revision ID: 0002_household_status_history
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0002_household_status_history'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('household_status_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('quarantine_until', sa.DateTime(), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_household_status_changes_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_status_changes_household_id_households'), ondelete='CASCADE'),
    sa.CheckConstraint("status IN ('normal', 'quarantined', 'exempt')", name=op.f('ck_household_status_changes_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_status_changes'))
    )
    with op.batch_alter_table('household_status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_status_changes_community_id_changed_at'), ['community_id', 'changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_status_changes_household_id_changed_at'), ['household_id', 'changed_at'], unique=False)

    # UTCDateTime stores naive UTC.
    migrated_at = datetime.now(UTC).replace(tzinfo=None)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO household_status_changes"
            " (household_id, community_id, status, quarantine_until, changed_at)"
            " SELECT id, community_id, status, quarantine_until, :migrated_at FROM households"
        ).bindparams(sa.bindparam('migrated_at', migrated_at, type_=sa.DateTime()))
    )


def downgrade() -> None:
    with op.batch_alter_table('household_status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_status_changes_household_id_changed_at'))
        batch_op.drop_index(batch_op.f('ix_household_status_changes_community_id_changed_at'))

    op.drop_table('household_status_changes')
