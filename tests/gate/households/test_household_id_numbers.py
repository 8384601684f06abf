"""The ID-number search hash: its own key file, re-hashing stored rows, search by ID number."""

from __future__ import annotations

import stat
from pathlib import Path

from factories import make_household
from sqlalchemy.orm import Session

from gate.community.models import Community
from gate.households.id_numbers import (
    ID_HASH_KEY_FILE,
    hash_id_number,
    id_hash_key,
    rehash_id_numbers,
)
from gate.households.queries import HouseholdSearch, search_households
from gate.households.validation import id_check_digit

ID_NUMBER = "35052419900101123" + id_check_digit("35052419900101123")


def test_the_key_is_32_private_bytes_created_once(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = id_hash_key(keys)
    assert len(first) == 32
    assert stat.S_IMODE((keys / ID_HASH_KEY_FILE).stat().st_mode) == 0o600
    assert id_hash_key(keys) == first
    assert id_hash_key(tmp_path / "other") != first


def test_rehash_fixes_stale_hashes_and_is_idempotent(
    db_session: Session, community: Community
) -> None:
    household = make_household(db_session, community=community, members=2)
    head, other = household.members
    head.id_number, head.id_number_hash = ID_NUMBER, "stale"
    other.id_number_hash = "no number, no hash"
    db_session.flush()
    key = b"k" * 32

    assert rehash_id_numbers(db_session, key) == 2
    assert head.id_number_hash == hash_id_number(key, ID_NUMBER)
    assert other.id_number_hash is None
    assert rehash_id_numbers(db_session, key) == 0


def test_search_by_a_full_id_number_uses_the_hash(
    db_session: Session, community: Community
) -> None:
    key = b"k" * 32
    household = make_household(db_session, community=community, members=1)
    make_household(db_session, community=community, members=1)
    household.members[0].id_number = ID_NUMBER
    db_session.flush()

    def found(text: str) -> list[str]:
        search = HouseholdSearch(text=text)
        return [
            h.code
            for h in search_households(
                db_session, community.id, search, id_key=key, limit=10
            ).households
        ]

    assert found(ID_NUMBER) == []  # plaintext is never searched: no hash yet
    rehash_id_numbers(db_session, key)
    assert found(ID_NUMBER) == [household.code]
    assert found(ID_NUMBER.lower()) == [household.code]  # normalised like the import
    assert found(ID_NUMBER[:-4]) == []  # not a substring search
