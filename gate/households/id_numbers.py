"""The ID-number search hash: its own key, the hash, and re-hashing the stored rows.

``Member.id_number_hash`` is HMAC-SHA256 (hex) of the normalised ID number under the
**ID-hash key**: 32 random bytes in ``<keys dir>/id_hash.key`` (mode 0600), created on first
use. It is not the web session secret, so rotating that secret leaves every hash valid.
Losing or replacing the key file only makes the hashes stale: :func:`rehash_id_numbers`
(run by ``checkpoint db upgrade``) recomputes them from the stored numbers, idempotently.

The office finds a person by an exact, full ID number through this hash
(:func:`gate.households.queries.search_households`), never by scanning plaintext.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.households.models import Member

ID_HASH_KEY_FILE = "id_hash.key"
ID_HASH_KEY_BYTES = 32

__all__ = [
    "ID_HASH_KEY_FILE",
    "IdHashKeyError",
    "hash_id_number",
    "id_hash_key",
    "rehash_database",
    "rehash_id_numbers",
]


class IdHashKeyError(RuntimeError):
    """The ID-hash key file exists but is not a 32-byte key (the message names the file)."""


def id_hash_key(keys_dir: Path) -> bytes:
    """The ID-hash key of ``keys_dir``, created (0600, 32 random bytes) on first use.

    Created through a private temporary file hard-linked into place, so two processes
    starting together agree on one key: whoever links first wins, the other reads it.
    """
    path = keys_dir / ID_HASH_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(ID_HASH_KEY_BYTES))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_bytes()
    if len(key) != ID_HASH_KEY_BYTES:
        raise IdHashKeyError(f"{path} is not a {ID_HASH_KEY_BYTES}-byte key")
    return key


def hash_id_number(key: bytes, id_number: str) -> str:
    """HMAC-SHA256 (hex) of a normalised ID number under the ID-hash ``key``."""
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()


def rehash_id_numbers(session: Session, key: bytes, *, chunk: int = 1000) -> int:
    """Recompute ``id_number_hash`` of every member with a stored ID number; flushes.

    Returns how many hashes changed (0 when run again with the same key). Members without
    an ID number get no hash.
    """
    changed = 0
    last_id = 0
    while True:
        members = list(
            session.scalars(
                select(Member).where(Member.id > last_id).order_by(Member.id).limit(chunk)
            )
        )
        if not members:
            return changed
        for member in members:
            wanted = None if member.id_number is None else hash_id_number(key, member.id_number)
            if member.id_number_hash != wanted:
                member.id_number_hash = wanted
                changed += 1
        session.flush()
        last_id = members[-1].id


def rehash_database(database_url: str, keys_dir: Path) -> int:
    """:func:`rehash_id_numbers` on the database at ``database_url`` in one committed unit
    of work, with the key of ``keys_dir`` (created if missing). Returns the count changed."""
    from gate.db import make_engine, session_factory
    from gate.unit_of_work import UnitOfWork

    key = id_hash_key(keys_dir)
    engine = make_engine(database_url)
    try:
        with UnitOfWork(session_factory(engine), writes=True) as unit:
            return rehash_id_numbers(unit.session, key)
    finally:
        engine.dispose()
