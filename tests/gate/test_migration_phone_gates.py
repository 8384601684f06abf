"""Migration 0017 adds the phones' table and its downgrade removes it, on SQLite and
PostgreSQL, with the columns and key the model has (test_migrations checks the whole
schema against the models)."""

from __future__ import annotations

from sqlalchemy import inspect

from gate.db import make_engine
from gate.migrations import current_revision, downgrade, upgrade


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_0017_adds_phone_gates_and_its_downgrade_removes_it(fresh_db_url: str) -> None:
    upgrade(fresh_db_url, "0016_quarter_counts")
    assert "phone_gates" not in _tables(fresh_db_url)

    assert upgrade(fresh_db_url, "0017_phone_gates") == ["0017_phone_gates"]
    assert "phone_gates" in _tables(fresh_db_url)
    engine = make_engine(fresh_db_url)
    try:
        columns = {c["name"]: c for c in inspect(engine).get_columns("phone_gates")}
        assert set(columns) == {
            "community_id",
            "phone_id",
            "gate_id",
            "user_id",
            "last_seen_at",
            "last_backlog",
        }
        assert columns["last_backlog"]["nullable"]
        assert not columns["last_seen_at"]["nullable"]
        primary = inspect(engine).get_pk_constraint("phone_gates")
        assert primary["constrained_columns"] == ["community_id", "phone_id"]
    finally:
        engine.dispose()

    assert downgrade(fresh_db_url, "0016_quarter_counts") == ["0017_phone_gates"]
    assert "phone_gates" not in _tables(fresh_db_url)
    assert current_revision(fresh_db_url) == "0016_quarter_counts"
    upgrade(fresh_db_url)
    assert "phone_gates" in _tables(fresh_db_url)
