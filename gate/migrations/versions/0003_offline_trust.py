"""Offline trust: clock offsets, conflict links, request hashes, device clock marks; room
for encrypted ID numbers.

- ``crossings.clock_offset_ms``: the deciding device's clock offset estimate.
- ``crossings.conflict_with_id``: the crossing a flagged one conflicts with.
- ``crossings.request_hash``: tells a true replay of a client id from a reuse.
- ``devices.latest_scanned_at`` / ``devices.clock_fault_at``: a device's clock high-water
  mark, and when its uploads went backwards.
- ``members.id_number`` widened to 128 characters (AES-GCM ciphertext, base64).

Revision ID: 0003_offline_trust
Revises: 0002_household_status_history
Create Date: 2026-12-04 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_offline_trust'
down_revision: str | Sequence[str] | None = '0002_household_status_history'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('crossings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_offset_ms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('conflict_with_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest_scanned_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('clock_fault_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.alter_column(
            'id_number', existing_type=sa.String(length=32), type_=sa.String(length=128)
        )


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.alter_column(
            'id_number', existing_type=sa.String(length=128), type_=sa.String(length=32)
        )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('clock_fault_at')
        batch_op.drop_column('latest_scanned_at')
    with op.batch_alter_table('crossings', schema=None) as batch_op:
        batch_op.drop_column('request_hash')
        batch_op.drop_column('conflict_with_id')
        batch_op.drop_column('clock_offset_ms')
