"""``checkpoint crossings export --unmasked`` needs the admin's password (argon2), checked
before any row is read, and the export is audited with that admin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from factories import make_user
from sqlalchemy import Engine, select
from test_audit_chain import make_site, scan

import gate.crossings.export as export_module
from gate.accounts.models import Role
from gate.accounts.passwords import hash_password
from gate.audit.models import AuditEvent
from gate.cli.crossings import crossings_group
from gate.db import session_factory, transaction
from passes import Direction

PASSWORD = "staple-orbit-lantern"


@pytest.fixture
def site(
    committed_engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    with transaction(session_factory(committed_engine)) as session:
        site = make_site(session)
        scan(session, site, site.households[0], Direction.OUT, datetime(2026, 11, 1, 1, tzinfo=UTC))
        for username in ("admin1", "admin2"):
            make_user(
                session,
                site.community,
                Role.ADMIN,
                username=username,
                password_hash=hash_password(PASSWORD + username),
            )
    return committed_engine


def _export(out: Path, *extra: str, stdin: str | None = None) -> Result:
    args = ["export", "--from", "2026-11-01", "--to", "2026-11-01", "--format", "csv"]
    return CliRunner().invoke(crossings_group, [*args, "--out", str(out), *extra], input=stdin)


def _exports(engine: Engine) -> list[tuple[str, str, int | None]]:
    with transaction(session_factory(engine), read_only=True) as session:
        return [
            (e.action, e.actor, json.loads(e.details_json)["rows"])
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith("crossings.export")
        ]


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records every time the export starts reading crossing rows."""
    reads: list[bool] = []
    real = export_module.export_crossings

    def spy(*args: object, **kwargs: object) -> int:
        reads.append(True)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(export_module, "export_crossings", spy)
    return reads


def test_an_admin_name_alone_exports_nothing(
    site: Engine, tmp_path: Path, rows_read: list[bool]
) -> None:
    out = tmp_path / "full.csv"
    wrong = _export(out, "--unmasked", "--as-admin", "admin1", "--password-stdin", stdin="guess\n")
    other = _export(  # another admin's password is not this admin's
        out, "--unmasked", "--as-admin", "admin1", stdin=PASSWORD + "admin2\n"
    )
    silent = _export(out, "--unmasked", "--as-admin", "admin1", stdin="")  # no password typed

    assert wrong.exit_code == other.exit_code == 1
    assert "密码不正确" in wrong.output
    assert "wrong password for admin1" in other.output
    assert silent.exit_code != 0
    assert rows_read == []
    assert not out.exists()
    assert not list(tmp_path.glob(".*.partial"))
    assert _exports(site) == []


def test_the_admin_password_opens_the_export_audited_as_that_admin(
    site: Engine, tmp_path: Path, rows_read: list[bool]
) -> None:
    piped = _export(
        tmp_path / "piped.csv",
        "--unmasked",
        "--as-admin",
        "admin2",
        "--password-stdin",
        stdin=PASSWORD + "admin2\n",
    )
    typed = _export(
        tmp_path / "typed.csv", "--unmasked", "--as-admin", "admin1", stdin=PASSWORD + "admin1\n"
    )

    assert piped.exit_code == 0, piped.output
    assert typed.exit_code == 0, typed.output
    assert "admin password" in typed.output  # asked at a hidden prompt
    assert PASSWORD not in typed.output
    assert len(rows_read) == 2
    assert _exports(site) == [
        ("crossings.export_unmasked", "cli:admin2", 1),
        ("crossings.export_unmasked", "cli:admin1", 1),
    ]
