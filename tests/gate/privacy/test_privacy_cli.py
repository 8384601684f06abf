"""``checkpoint privacy`` end to end on a committed database: purge, end of lockdown, export,
and a purged household's personal data gone from the database file itself."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from privacy_site import build_log, make_site
from sqlalchemy import Engine, inspect, text

from gate.cli.audit import audit_group
from gate.cli.privacy import privacy_group
from gate.db import session_factory, transaction
from gate.households.id_numbers import hash_id_number, id_keys, seal_id_number

ID_NUMBER = "350524199001011234"


@pytest.fixture
def cli_env(
    committed_engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    return committed_engine


def test_purge_end_lockdown_and_export_through_the_cli(cli_env: Engine, tmp_path: Path) -> None:
    sessions = session_factory(cli_env)
    with transaction(sessions) as session:
        site = make_site(session, tmp_path / "keys")
        build_log(session, site, days=3)
        household = site.households[0]
        head = household.members[0]
        head.name, head.phone = "欧阳娜娜", "13912345678"
        keys = id_keys(tmp_path / "idkeys")
        head.id_number = seal_id_number(keys, ID_NUMBER)
        head.id_number_hash = hash_id_number(keys, ID_NUMBER)
        session.flush()
        code, community_code = household.code, site.community.code
        community_id = site.community.id
        community_name = site.community.name
        sealed, name, phone = str(head.id_number), head.name, str(head.phone)
        id_hash = str(head.id_number_hash)
    runner = CliRunner()
    common = ["--community", community_code]
    personal = [name, phone, sealed, id_hash]
    assert _found(cli_env, personal) == personal  # the search does find them while they live

    rolling = runner.invoke(privacy_group, ["purge", *common, "--before", "2026-11-02"])
    verified = runner.invoke(audit_group, ["verify", *common])
    export_path = tmp_path / "h.xlsx"
    exported = runner.invoke(
        privacy_group, ["export", *common, "--household", code, "--out", str(export_path)]
    )
    not_due = runner.invoke(privacy_group, ["purge", *common])
    quiet = runner.invoke(privacy_group, ["purge", *common, "--if-due"])
    refused = runner.invoke(privacy_group, ["end-lockdown", *common, "--confirm", "别的社区"])
    ended = runner.invoke(privacy_group, ["end-lockdown", *common, "--confirm", community_name])
    retention = runner.invoke(privacy_group, ["retention", *common, "--days", "0"])
    uploads = tmp_path / "instance" / "imports"
    uploads.mkdir(parents=True, exist_ok=True)
    sheet = uploads / f"{community_id}-{'a' * 32}.xlsx"  # an import never confirmed
    sheet.write_bytes(name.encode("utf-8"))
    purged = runner.invoke(privacy_group, ["purge", *common, "--out", str(tmp_path / "p.json")])
    after = runner.invoke(audit_group, ["verify", *common])

    assert rolling.exit_code == 0, rolling.output
    assert "删除" in rolling.output
    assert verified.exit_code == 0, verified.output
    assert "verified from checkpoint of" in verified.output
    assert exported.exit_code == 0, exported.output
    book = load_workbook(io.BytesIO(export_path.read_bytes()))
    assert {"住户", "成员", "出入证", "出入记录", "办公室操作记录"} <= set(book.sheetnames)
    members = list(book["成员"].iter_rows(values_only=True))
    assert members[1][0] == "欧***"  # masked: the office's default
    assert len(list(book["出入记录"].iter_rows())) == 1 + 4  # days 2 and 3 are left
    assert not_due.exit_code == 1
    assert "尚未到删除时间" in not_due.output
    assert quiet.exit_code == 0
    assert "尚未到删除时间" in quiet.output
    assert refused.exit_code == 1
    assert ended.exit_code == 0, ended.output
    assert "已吊销" in ended.output or "吊销" in ended.output
    assert retention.exit_code == 0, retention.output
    assert purged.exit_code == 0, purged.output
    assert (tmp_path / "p.json").exists()
    assert not sheet.exists()
    assert after.exit_code == 0, after.output
    assert "verified from checkpoint of" in after.output
    assert _found(cli_env, [*personal, ID_NUMBER]) == []  # stored sealed, never in plain text


def _found(engine: Engine, needles: list[str]) -> list[str]:
    """The ``needles`` some table holds: on SQLite, in the file's bytes after VACUUM."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        engine.dispose()  # no pooled connection in a transaction while VACUUM rewrites the file
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        blob = path.read_bytes()
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            blob += wal.read_bytes()
        return [needle for needle in needles if needle.encode("utf-8") in blob]
    found: list[str] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for needle in needles:
                count = connection.execute(
                    text(f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE :needle'),
                    {"needle": f"%{needle}%"},
                ).scalar()
                if count and needle not in found:
                    found.append(needle)
    return [needle for needle in needles if needle in found]


@pytest.mark.parametrize("command", ["retention", "purge", "export", "end-lockdown"])
def test_every_privacy_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(privacy_group, [command, "--help"])

    assert result.exit_code == 0
    assert "Example: checkpoint privacy" in result.output
