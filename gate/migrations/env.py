"""Alembic environment: runs on the connection handed in by :mod:`gate.migrations`."""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext

import gate.models
from gate.db import UTCDateTime

config = context.config
target_metadata = gate.models.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render gate's own column types as plain SQLAlchemy types.

    Migrations must not import model code, which changes after they are written.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _record_step(*, step: Any, **_: Any) -> None:
    # Up or down, ``up_revision_id`` is the revision whose script just ran.
    config.attributes.setdefault("applied", []).append(step.up_revision_id)


def _configure_options() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        # Batch mode: ALTERs on SQLite become copy-and-move; on PostgreSQL plain ALTERs.
        "render_as_batch": True,
        "compare_type": True,
        "render_item": render_item,
        "on_version_apply": _record_step,
    }


def run_migrations_offline() -> None:
    """``--sql`` mode: emit the SQL instead of running it."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, literal_binds=True, **_configure_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through gate.migrations (or `checkpoint db upgrade`), "
            "which hands Alembic a connection"
        )
    context.configure(connection=connection, **_configure_options())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
