"""Initial schema.

Communities and their hierarchy, rule sets, households and members, gates and devices,
signing keys, passes, crossings, audit events, users and login attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 11:54:06.946006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('communities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='Asia/Shanghai', nullable=False),
    sa.Column('current_rule_version', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('rotating_codes_enabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('id BETWEEN 0 AND 4294967295', name=op.f('ck_communities_id_u32')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communities')),
    sa.UniqueConstraint('code', name=op.f('uq_communities_code'))
    )
    op.create_table('login_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('attempted_at', sa.DateTime(), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempts_remote_addr_attempted_at'), ['remote_addr', 'attempted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempts_username_attempted_at'), ['username', 'attempted_at'], unique=False)

    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_areas_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('community_id', 'code', name=op.f('uq_areas_community_id_code'))
    )
    op.create_table('gates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('chain_seq', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), server_default='0000000000000000000000000000000000000000000000000000000000000000', nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_gates_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gates')),
    sa.UniqueConstraint('community_id', 'code', name=op.f('uq_gates_community_id_code'))
    )
    op.create_table('rule_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rules_json', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_rule_sets_version_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_rule_sets_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_sets')),
    sa.UniqueConstraint('community_id', 'version', name=op.f('uq_rule_sets_community_id_version'))
    )
    op.create_table('signing_keys',
    sa.Column('key_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('algorithm', sa.String(length=16), server_default='ed25519', nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=True),
    sa.Column('not_after', sa.DateTime(), nullable=True),
    sa.Column('private_key_path', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('key_id BETWEEN 0 AND 65535', name=op.f('ck_signing_keys_key_id_u16')),
    sa.CheckConstraint('length(public_key) = 32', name=op.f('ck_signing_keys_public_key_length')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_signing_keys_community_id_communities')),
    sa.CheckConstraint("status IN ('active', 'retired', 'revoked')", name=op.f('ck_signing_keys_status')),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_signing_keys'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_community_id'), ['community_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('disabled_at', sa.DateTime(), nullable=True),
    sa.Column('session_version', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_users_community_id_communities')),
    sa.CheckConstraint("role IN ('admin', 'office', 'auditor', 'supervisor', 'volunteer')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_community_id'), ['community_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details_json', sa.Text(), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_audit_events_community_id_communities')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_community_id_created_at'), ['community_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_subject_type_subject_id'), ['subject_type', 'subject_id'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gate_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enrollment_code_hash', sa.String(length=128), nullable=True),
    sa.Column('enrollment_expires_at', sa.DateTime(), nullable=True),
    sa.Column('token_hash', sa.String(length=128), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(), nullable=True),
    sa.Column('last_backlog', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], name=op.f('fk_devices_gate_id_gates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_devices_token_hash'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_gate_id'), ['gate_id'], unique=False)

    op.create_table('grids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('grid_worker_name', sa.String(length=64), nullable=True),
    sa.Column('grid_worker_phone', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_grids_area_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grids')),
    sa.UniqueConstraint('area_id', 'code', name=op.f('uq_grids_area_id_code'))
    )
    op.create_table('compounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_compounds_grid_id_grids')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compounds')),
    sa.UniqueConstraint('grid_id', 'code', name=op.f('uq_compounds_grid_id_code'))
    )
    op.create_table('buildings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('compound_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['compound_id'], ['compounds.id'], name=op.f('fk_buildings_compound_id_compounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buildings')),
    sa.UniqueConstraint('compound_id', 'code', name=op.f('uq_buildings_compound_id_code'))
    )
    op.create_table('households',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=True),
    sa.Column('room', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='normal', nullable=False),
    sa.Column('quarantine_until', sa.DateTime(), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('generation', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('out_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('state_json', sa.Text(), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('generation BETWEEN 0 AND 65535', name=op.f('ck_households_generation_u16')),
    sa.CheckConstraint('id BETWEEN 0 AND 4294967295', name=op.f('ck_households_id_u32')),
    sa.CheckConstraint('out_count >= 0', name=op.f('ck_households_out_count_not_negative')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_households_building_id_buildings')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_households_community_id_communities')),
    sa.CheckConstraint("status IN ('normal', 'quarantined', 'exempt')", name=op.f('ck_households_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('community_id', 'code', name=op.f('uq_households_community_id_code'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_building_id'), ['building_id'], unique=False)

    op.create_table('crossings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gate_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pass_id', sa.LargeBinary(length=12), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('scanned_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('temperature_tenths', sa.SmallInteger(), nullable=True),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('codes', sa.Text(), server_default='', nullable=False),
    sa.Column('flags', sa.Text(), server_default='', nullable=False),
    sa.Column('next_exit_at', sa.DateTime(), nullable=True),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('override_supervisor', sa.String(length=64), nullable=True),
    sa.Column('offline', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('conflict', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('conflict_code', sa.String(length=32), nullable=True),
    sa.Column('conflict_reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('conflict_reviewed_by', sa.String(length=64), nullable=True),
    sa.Column('conflict_note', sa.Text(), nullable=True),
    sa.Column('rejected', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('gate_seq', sa.BigInteger(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('gate_seq >= 1', name=op.f('ck_crossings_gate_seq_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_crossings_community_id_communities')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_crossings_device_id_devices')),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], name=op.f('fk_crossings_gate_id_gates')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_crossings_household_id_households')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_crossings_user_id_users')),
    sa.CheckConstraint("direction IN ('out', 'in')", name=op.f('ck_crossings_direction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crossings')),
    sa.UniqueConstraint('client_id', name=op.f('uq_crossings_client_id')),
    sa.UniqueConstraint('gate_id', 'gate_seq', name=op.f('uq_crossings_gate_id_gate_seq'))
    )
    with op.batch_alter_table('crossings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crossings_community_id_allowed_code'), ['community_id', 'allowed', 'code'], unique=False)
        batch_op.create_index(batch_op.f('ix_crossings_community_id_conflict_scanned_at'), ['community_id', 'conflict', 'scanned_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_crossings_community_id_scanned_at'), ['community_id', 'scanned_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_crossings_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_crossings_household_id_scanned_at'), ['household_id', 'scanned_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_crossings_pass_id'), ['pass_id'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('id_number', sa.String(length=32), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('is_head', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_members_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_id_number_hash'), ['id_number_hash'], unique=False)

    op.create_table('passes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pass_id', sa.LargeBinary(length=12), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.Column('manual_code', sa.String(length=16), nullable=True),
    sa.Column('resident_link_token_hash', sa.String(length=128), nullable=True),
    sa.Column('resident_link_revoked_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('generation BETWEEN 0 AND 65535', name=op.f('ck_passes_generation_u16')),
    sa.CheckConstraint('length(pass_id) = 12', name=op.f('ck_passes_pass_id_length')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_passes_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_passes_household_id_households')),
    sa.ForeignKeyConstraint(['key_id'], ['signing_keys.key_id'], name=op.f('fk_passes_key_id_signing_keys')),
    sa.CheckConstraint("status IN ('active', 'revoked', 'superseded')", name=op.f('ck_passes_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passes')),
    sa.UniqueConstraint('community_id', 'manual_code', name=op.f('uq_passes_community_id_manual_code')),
    sa.UniqueConstraint('pass_id', name=op.f('uq_passes_pass_id')),
    sa.UniqueConstraint('resident_link_token_hash', name=op.f('uq_passes_resident_link_token_hash'))
    )
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passes_household_id_status'), ['household_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_passes_key_id'), ['key_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passes_key_id'))
        batch_op.drop_index(batch_op.f('ix_passes_household_id_status'))

    op.drop_table('passes')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_id_number_hash'))
        batch_op.drop_index(batch_op.f('ix_members_household_id'))

    op.drop_table('members')
    with op.batch_alter_table('crossings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crossings_pass_id'))
        batch_op.drop_index(batch_op.f('ix_crossings_household_id_scanned_at'))
        batch_op.drop_index(batch_op.f('ix_crossings_device_id'))
        batch_op.drop_index(batch_op.f('ix_crossings_community_id_scanned_at'))
        batch_op.drop_index(batch_op.f('ix_crossings_community_id_conflict_scanned_at'))
        batch_op.drop_index(batch_op.f('ix_crossings_community_id_allowed_code'))

    op.drop_table('crossings')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_building_id'))

    op.drop_table('households')
    op.drop_table('buildings')
    op.drop_table('compounds')
    op.drop_table('grids')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_gate_id'))

    op.drop_table('devices')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_subject_type_subject_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_community_id_created_at'))

    op.drop_table('audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_community_id'))

    op.drop_table('users')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_community_id'))

    op.drop_table('signing_keys')
    op.drop_table('rule_sets')
    op.drop_table('gates')
    op.drop_table('areas')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempts_username_attempted_at'))
        batch_op.drop_index(batch_op.f('ix_login_attempts_remote_addr_attempted_at'))

    op.drop_table('login_attempts')
    op.drop_table('communities')
