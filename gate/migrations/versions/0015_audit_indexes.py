"""Indexes for the office's audit queries at millions of rows.

- ``ix_crossings_community_id_scanned_at`` covers ``direction`` and ``allowed`` on
  PostgreSQL (``INCLUDE``): per-hour counts read the index alone (index-only scan).
- Partial indexes: ``ix_crossings_refused`` (``NOT allowed``, covering ``code`` on
  PostgreSQL: a day's refusals by code), ``ix_crossings_fever`` (verdicts carrying
  ``fever``, covering what an alert shows on PostgreSQL) and ``ix_crossings_conflicts``
  (conflicts to review, in scan order). Their
  predicates are ``gate.crossings.models.FEVER_PREDICATE`` / ``CONFLICT_PREDICATE``, the
  very text the queries use, so PostgreSQL proves a query's filter implies the index's.

Revision ID: 0015_audit_indexes
Revises: 0014_duty_roster
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_audit_indexes"
down_revision: str | Sequence[str] | None = "0014_duty_roster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration keeps the text it was written with.
_FEVER = "code = 'fever' OR codes LIKE '%fever%'"
_FEVER_SHOWS = ("id", "gate_id", "household_id", "direction", "temperature_tenths", "allowed")
_CONFLICT = "conflict OR conflict_with_id IS NOT NULL"
_BY_TIME = "ix_crossings_community_id_scanned_at"


def upgrade() -> None:
    op.drop_index(_BY_TIME, table_name="crossings")
    op.create_index(
        _BY_TIME,
        "crossings",
        ["community_id", "scanned_at"],
        postgresql_include=["direction", "allowed"],
    )
    op.create_index(
        "ix_crossings_refused",
        "crossings",
        ["community_id", "scanned_at"],
        postgresql_include=["code"],
        postgresql_where=sa.text("NOT allowed"),
        sqlite_where=sa.text("NOT allowed"),
    )
    op.create_index(
        "ix_crossings_fever",
        "crossings",
        ["community_id", "scanned_at"],
        postgresql_include=[
            "id",
            "gate_id",
            "household_id",
            "direction",
            "temperature_tenths",
            "allowed",
        ],
        postgresql_where=sa.text(_FEVER),
        sqlite_where=sa.text(_FEVER),
    )
    op.create_index(
        "ix_crossings_conflicts",
        "crossings",
        ["community_id", "scanned_at", "id"],
        postgresql_where=sa.text(_CONFLICT),
        sqlite_where=sa.text(_CONFLICT),
    )


def downgrade() -> None:
    for name in ("ix_crossings_conflicts", "ix_crossings_fever", "ix_crossings_refused"):
        op.drop_index(name, table_name="crossings")
    op.drop_index(_BY_TIME, table_name="crossings")
    op.create_index(_BY_TIME, "crossings", ["community_id", "scanned_at"])
