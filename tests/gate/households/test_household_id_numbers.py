"""ID numbers at rest: sealed under their own key file, found only through the keyed hash;
``checkpoint db upgrade`` seals plaintext rows once; no plaintext in the database file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from factories import make_household
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gate.cli.db import db_group
from gate.cli.households import households_group
from gate.community.models import Community
from gate.db import make_engine, session_factory, transaction
from gate.households.id_numbers import (
    ID_HASH_KEY_FILE,
    ID_NUMBER_KEY_FILE,
    IdHashKeyError,
    IdKeys,
    IdNumberSealError,
    hash_id_number,
    id_hash_key,
    id_keys,
    is_sealed,
    open_id_number,
    rehash_id_numbers,
    seal_id_number,
    seal_id_numbers,
)
from gate.households.models import Member
from gate.households.queries import HouseholdSearch, search_households
from gate.households.spreadsheet import COLUMNS
from gate.households.validation import id_check_digit
from gate.settings import Settings

ID_NUMBER = "35052419900101123" + id_check_digit("35052419900101123")
KEYS = IdKeys(b"k" * 32, sealing=b"s" * 32)


def test_the_keys_are_32_private_bytes_created_once(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = id_hash_key(keys)
    assert len(first) == 32
    assert len(first.sealing) == 32
    assert first.sealing != bytes(first)
    for name in (ID_HASH_KEY_FILE, ID_NUMBER_KEY_FILE):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    again = id_keys(keys)
    assert again == first
    assert again.sealing == first.sealing
    assert id_hash_key(tmp_path / "other") != first
    assert "s" * 8 not in repr(KEYS)
    assert "k" * 8 not in repr(KEYS)


def test_sealed_numbers_open_only_under_their_key() -> None:
    sealed = seal_id_number(KEYS, ID_NUMBER)
    assert is_sealed(sealed)
    assert ID_NUMBER not in sealed
    assert len(sealed) <= 128  # the column
    assert seal_id_number(KEYS, ID_NUMBER) != sealed  # a fresh nonce each time
    assert seal_id_number(KEYS, None) is None
    assert open_id_number(KEYS, sealed) == ID_NUMBER

    other = IdKeys(bytes(KEYS), sealing=b"t" * 32)
    tampered = sealed[:-6] + ("AAAA" if sealed[-6:-2] != "AAAA" else "BBBB") + sealed[-2:]
    for key, stored in ((other, sealed), (KEYS, tampered), (KEYS, ID_NUMBER), (KEYS, "v1:%%")):
        with pytest.raises(IdNumberSealError):
            open_id_number(key, stored)
    with pytest.raises(IdHashKeyError):
        seal_id_number(b"k" * 32, ID_NUMBER)  # a bare hash key carries no sealing key


def test_rehash_fixes_stale_hashes_and_is_idempotent(
    db_session: Session, community: Community
) -> None:
    household = make_household(db_session, community=community, members=3)
    head, other, legacy = household.members
    head.id_number, head.id_number_hash = seal_id_number(KEYS, ID_NUMBER), "stale"
    legacy.id_number = ID_NUMBER  # a row from before sealing: hashed from its plaintext
    other.id_number_hash = "no number, no hash"
    db_session.flush()

    assert rehash_id_numbers(db_session, KEYS) == 3
    assert head.id_number_hash == legacy.id_number_hash == hash_id_number(KEYS, ID_NUMBER)
    assert other.id_number_hash is None
    assert rehash_id_numbers(db_session, KEYS) == 0


def test_sealing_stored_rows_seals_each_plaintext_once(
    db_session: Session, community: Community
) -> None:
    household = make_household(db_session, community=community, members=3)
    legacy, sealed, blank = household.members
    legacy.id_number = ID_NUMBER
    sealed.id_number = seal_id_number(KEYS, ID_NUMBER)
    already = sealed.id_number
    db_session.flush()

    assert seal_id_numbers(db_session, KEYS) == 1
    assert legacy.id_number is not None
    assert is_sealed(legacy.id_number)
    assert open_id_number(KEYS, legacy.id_number) == ID_NUMBER
    assert (sealed.id_number, blank.id_number) == (already, None)
    assert seal_id_numbers(db_session, KEYS) == 0


def test_search_by_a_full_id_number_uses_the_hash(
    db_session: Session, community: Community
) -> None:
    household = make_household(db_session, community=community, members=1)
    make_household(db_session, community=community, members=1)
    household.members[0].id_number = seal_id_number(KEYS, ID_NUMBER)
    db_session.flush()

    def found(text: str) -> list[str]:
        search = HouseholdSearch(text=text)
        return [
            h.code
            for h in search_households(
                db_session, community.id, search, id_key=KEYS, limit=10
            ).households
        ]

    assert found(ID_NUMBER) == []  # no hash yet: the sealed column is never searched
    rehash_id_numbers(db_session, KEYS)
    assert found(ID_NUMBER) == [household.code]
    assert found(ID_NUMBER.lower()) == [household.code]  # normalised like the import
    assert found(ID_NUMBER[:-4]) == []  # not a substring search


# --- a fresh install through the CLI ------------------------------------------------------------


@click.group()
def _root() -> None:
    """The commands a fresh install runs."""


_root.add_command(db_group)
_root.add_command(households_group)


class _Install:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database = directory / "checkpoint.sqlite3"
        self.url = f"sqlite:///{self.database}"
        self.env = {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(directory),
            "CHECKPOINT_DATABASE_URL": self.url,
            "CHECKPOINT_SECRET_KEY": "k" * 48,
        }

    def __call__(self, *args: str) -> Result:
        result = CliRunner().invoke(_root, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, result.output + result.stderr
        return result

    def raw_bytes(self) -> bytes:
        """The database file and its WAL and shared-memory files, as stored on disk."""
        files = [self.database, *self.directory.glob("checkpoint.sqlite3-*")]
        return b"".join(path.read_bytes() for path in files if path.is_file())


@pytest.fixture
def install(tmp_path: Path) -> _Install:
    install = _Install(tmp_path / "var")
    install("db", "upgrade")
    engine = make_engine(install.url)
    with transaction(session_factory(engine)) as session:
        session.add(Community(id=350322, name="幸福里社区", code="xfl"))
    engine.dispose()
    sheet = tmp_path / "住户.csv"
    values = {
        "household_code": "3-1-401", "area": "一片区", "grid": "第1网格", "building": "3",
        "unit": "1", "room": "401", "head_name": "张三", "phone": "13800138000",
        "id_number": ID_NUMBER, "members": "3", "status": "正常",
    }  # fmt: skip
    header = ",".join(c.header_zh for c in COLUMNS)
    row = ",".join(values.get(c.key, "") for c in COLUMNS)
    sheet.write_text(f"{header}\n{row}\n", encoding="utf-8")
    install("households", "import", str(sheet))
    return install


def _members(install: _Install) -> list[Member]:
    engine = make_engine(install.url)
    try:
        with transaction(session_factory(engine), read_only=True) as session:
            return list(session.scalars(select(Member).order_by(Member.id)))
    finally:
        engine.dispose()


def test_a_fresh_install_stores_no_plaintext_id_number(install: _Install) -> None:
    [head] = _members(install)
    assert head.id_number is not None
    assert is_sealed(head.id_number)
    keys = id_keys(install.directory / "keys")
    assert open_id_number(keys, head.id_number) == ID_NUMBER
    assert head.id_number_hash == hash_id_number(keys, ID_NUMBER)
    stored = install.raw_bytes()
    assert "张三".encode() in stored  # the bytes are searchable: the check can find things
    for form in (ID_NUMBER, ID_NUMBER[:-1], ID_NUMBER[6:14]):  # whole, 17 digits, birth date
        assert form.encode() not in stored
        assert form.encode("utf-16-le") not in stored


def test_db_upgrade_seals_plaintext_rows_exactly_once(install: _Install) -> None:
    engine = make_engine(install.url)
    with transaction(session_factory(engine)) as session:  # a database from before sealing
        session.execute(update(Member).values(id_number=ID_NUMBER, id_number_hash="stale"))
    engine.dispose()

    first = install("db", "upgrade").output
    assert "新加密 1 条" in first
    assert "已更新 1 条" in first
    [head] = _members(install)
    assert head.id_number is not None
    assert is_sealed(head.id_number)
    keys = id_keys(install.directory / "keys")
    assert open_id_number(keys, head.id_number) == ID_NUMBER
    assert head.id_number_hash == hash_id_number(keys, ID_NUMBER)

    second = install("db", "upgrade").output
    assert "新加密 0 条" in second
    assert "已更新 0 条" in second
    [again] = _members(install)
    assert again.id_number == head.id_number  # sealed once: not sealed again


# --- file modes ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common umask 022, under which files are created 0644 unless made private."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_a_fresh_install_keeps_its_files_private(tmp_path: Path) -> None:
    install = _Install(tmp_path / "srv" / "var")
    install.env["CHECKPOINT_ENV"] = "development"  # the secret key file is written too
    del install.env["CHECKPOINT_SECRET_KEY"]
    install("db", "upgrade")

    var = install.directory
    assert _mode(var) == 0o700
    assert _mode(var / "keys") == 0o700
    database_files = [install.database, *var.glob("checkpoint.sqlite3-*")]
    assert len(database_files) >= 1
    for path in [*database_files, var / "secret_key", *(var / "keys").iterdir()]:
        assert _mode(path) == 0o600, path


@pytest.mark.usefixtures("open_umask")
def test_an_existing_install_open_to_others_is_tightened_at_start(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "keys").mkdir(parents=True, mode=0o755)
    var.chmod(0o755)
    database = var / "checkpoint.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    for path in (database, *var.glob("checkpoint.sqlite3-*")):
        path.chmod(0o644)

    Settings.from_env({"CHECKPOINT_ENV": "test", "CHECKPOINT_INSTANCE_DIR": str(var)})
    make_engine(f"sqlite:///{database}").dispose()

    assert (_mode(var), _mode(var / "keys")) == (0o700, 0o700)
    for path in (database, *var.glob("checkpoint.sqlite3-*")):
        assert _mode(path) == 0o600, path
