"""Migrations build exactly the models' schema, on SQLite and PostgreSQL, and undo it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import CheckConstraint, inspect

import gate
from gate.cli.db import db_group
from gate.db import make_engine
from gate.migrations import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade,
    head_revision,
    script_directory,
    upgrade,
)
from gate.models import metadata


def _all_revisions() -> list[str]:
    """Every revision, oldest first (what an upgrade from empty applies)."""
    return [script.revision for script in reversed(list(script_directory().walk_revisions()))]


def _schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            options = {
                "compare_type": True,
                # Alembic reports a false difference for SQLite's '' text defaults.
                "compare_server_default": connection.dialect.name == "postgresql",
            }
            context = MigrationContext.configure(connection, opts=options)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _check_constraint_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return {
            str(check["name"])
            for table in inspector.get_table_names()
            for check in inspector.get_check_constraints(table)
        }
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_produces_exactly_the_models(fresh_db_url: str) -> None:
    assert upgrade(fresh_db_url) == _all_revisions()
    assert _all_revisions()[-1] == head_revision()

    assert _schema_diff(fresh_db_url) == []
    assert current_revision(fresh_db_url) == head_revision()


def test_migrated_check_constraints_match_the_models(fresh_db_url: str) -> None:
    # Autogenerate does not compare CHECK constraints, so compare their names directly.
    upgrade(fresh_db_url)
    expected = {
        str(constraint.name)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }

    assert expected  # status enums, u32 ids, ...
    assert _check_constraint_names(fresh_db_url) == expected


def test_upgrade_twice_applies_nothing_the_second_time(fresh_db_url: str) -> None:
    upgrade(fresh_db_url)

    assert upgrade(fresh_db_url) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(
    fresh_db_url: str,
) -> None:
    upgrade(fresh_db_url)

    assert downgrade(fresh_db_url) == list(reversed(_all_revisions()))
    assert _table_names(fresh_db_url) <= {"alembic_version"}
    assert current_revision(fresh_db_url) is None

    upgrade(fresh_db_url)
    assert _schema_diff(fresh_db_url) == []


def test_db_upgrade_command_reports_what_it_applied(fresh_db_url: str) -> None:
    runner = CliRunner()

    first = runner.invoke(db_group, ["upgrade", "--database-url", fresh_db_url])
    second = runner.invoke(db_group, ["upgrade", "--database-url", fresh_db_url])

    assert first.exit_code == 0, first.output
    assert f"Applied:  {head_revision()}" in first.output
    assert "Was at:   empty" in first.output
    assert second.exit_code == 0, second.output
    assert "Nothing to do" in second.output


def test_db_current_check_fails_until_upgraded(fresh_db_url: str) -> None:
    runner = CliRunner()

    before = runner.invoke(db_group, ["current", "--check", "--database-url", fresh_db_url])
    runner.invoke(db_group, ["upgrade", "--database-url", fresh_db_url])
    after = runner.invoke(db_group, ["current", "--check", "--database-url", fresh_db_url])

    assert before.exit_code == 1
    assert "checkpoint db upgrade" in before.output
    assert after.exit_code == 0, after.output
    assert "Up to date." in after.output


def test_db_command_explains_an_unreachable_database_without_its_password() -> None:
    runner = CliRunner()

    result = runner.invoke(
        db_group,
        ["current", "--database-url", "postgresql://u:hunter2@127.0.0.1:1/none"],
    )

    assert result.exit_code == 1
    assert "cannot use the database postgresql://u:***@127.0.0.1:1/none" in result.output
    assert "hunter2" not in result.output


def test_migration_scripts_do_not_import_model_code() -> None:
    # A migration must keep working after the models change.
    scripts = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))

    assert scripts
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        assert "from gate" not in source, script.name
        assert "import gate" not in source, script.name


def test_gate_models_imports_every_feature_models_module() -> None:
    # In a fresh interpreter, so modules other tests imported do not count.
    package_dir = Path(gate.__file__).parent
    feature_models = sorted(
        f"gate.{path.parent.name}.models" for path in package_dir.glob("*/models.py")
    )
    probe = "import sys, gate.models; print(' '.join(sorted(sys.modules)))"

    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()

    assert feature_models
    assert set(feature_models) <= set(loaded), set(feature_models) - set(loaded)
