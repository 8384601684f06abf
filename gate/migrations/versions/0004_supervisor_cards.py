"""Supervisor cards: signed, revocable cards that let a supervisor override a refusal at the gate.

- ``supervisor_cards``: one row per card issued (card id, account, key, validity, revocation).
- ``crossings.override_user_id`` / ``crossings.override_card_id``: the verified supervisor's
  account and card of an override (outside the hash chain).

Revision ID: 0004_supervisor_cards
Revises: 0003_offline_trust
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_supervisor_cards'
down_revision: str | Sequence[str] | None = '0003_offline_trust'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('supervisor_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.LargeBinary(length=12), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('issued_by', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('length(card_id) = 12', name=op.f('ck_supervisor_cards_card_id_length')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_supervisor_cards_community_id_communities')),
    sa.ForeignKeyConstraint(['key_id'], ['signing_keys.key_id'], name=op.f('fk_supervisor_cards_key_id_signing_keys')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_supervisor_cards_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervisor_cards')),
    sa.UniqueConstraint('card_id', name=op.f('uq_supervisor_cards_card_id'))
    )
    with op.batch_alter_table('supervisor_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervisor_cards_community_id_revoked_at'), ['community_id', 'revoked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervisor_cards_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('crossings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('override_card_id', sa.LargeBinary(length=12), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_crossings_override_user_id_users'), 'users', ['override_user_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('crossings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_crossings_override_user_id_users'), type_='foreignkey')
        batch_op.drop_column('override_card_id')
        batch_op.drop_column('override_user_id')
    with op.batch_alter_table('supervisor_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervisor_cards_user_id'))
        batch_op.drop_index(batch_op.f('ix_supervisor_cards_community_id_revoked_at'))
    op.drop_table('supervisor_cards')
