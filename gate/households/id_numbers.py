"""ID numbers at rest: sealed (AES-GCM) under their own key, found through a keyed hash.

``Member.id_number`` never holds a plaintext ID number: it holds
``v1:`` + base64(12-byte nonce || ciphertext || 16-byte tag), AES-256-GCM under the
**ID-number key**, 32 random bytes in ``<keys dir>/id_number.key`` (mode 0600, created on
first use beside the signing keys). The one way back to the number is
:func:`open_id_number`; :func:`seal_id_number` is the one way in. Existing plaintext rows
(databases from before sealing) are sealed, once, by :func:`seal_database`, which
``checkpoint db upgrade`` runs (a migration cannot read the key file).

The two keys travel together as :class:`IdKeys`: a ``bytes`` (the hash key, so it goes
wherever an ``id_key: bytes`` goes: the import, the search) that carries the sealing key.

``Member.id_number_hash`` is HMAC-SHA256 (hex) of the normalised ID number under the
**ID-hash key**: 32 random bytes in ``<keys dir>/id_hash.key`` (mode 0600), created on first
use. It is not the web session secret, so rotating that secret leaves every hash valid.
Losing or replacing the key file only makes the hashes stale: :func:`rehash_id_numbers`
(run by ``checkpoint db upgrade``) recomputes them from the stored numbers, idempotently.

The office finds a person by an exact, full ID number through this hash
(:func:`gate.households.queries.search_households`), never by scanning plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.households.models import Member

ID_HASH_KEY_FILE = "id_hash.key"
ID_NUMBER_KEY_FILE = "id_number.key"
ID_HASH_KEY_BYTES = 32
SEALED_PREFIX = "v1:"
"""The version prefix of a sealed ID number (a plaintext one is 18 characters, no colon)."""
_NONCE_BYTES = 12
_AAD = b"checkpoint members.id_number v1"

__all__ = [
    "ID_HASH_KEY_FILE",
    "ID_NUMBER_KEY_FILE",
    "SEALED_PREFIX",
    "IdHashKeyError",
    "IdKeys",
    "IdNumberSealError",
    "hash_id_number",
    "id_hash_key",
    "id_keys",
    "is_sealed",
    "open_id_number",
    "rehash_database",
    "rehash_id_numbers",
    "seal_database",
    "seal_id_number",
    "seal_id_numbers",
]


class IdHashKeyError(RuntimeError):
    """A key file exists but is not a 32-byte key (the message names the file), or a
    sealing key was needed and the ID key given carries none."""


class IdNumberSealError(ValueError):
    """A stored ID number does not open under the ID-number key (wrong key or altered)."""


class IdKeys(bytes):
    """The ID-hash key (these bytes) carrying the ID-number sealing key (``sealing``).

    A ``bytes``, so that it passes wherever an ``id_key: bytes`` goes; the functions that
    seal or open an ID number take the sealing key from it.
    """

    sealing: bytes

    def __new__(cls, hash_key: bytes, sealing: bytes) -> IdKeys:
        if len(sealing) != ID_HASH_KEY_BYTES:
            raise IdHashKeyError(f"the ID-number key must be {ID_HASH_KEY_BYTES} bytes")
        keys = super().__new__(cls, hash_key)
        keys.sealing = sealing
        return keys

    def __repr__(self) -> str:
        return "IdKeys(...)"  # never a key in a log line or a traceback


def id_keys(keys_dir: Path) -> IdKeys:
    """Both ID keys of ``keys_dir`` (each created, 0600, on first use)."""
    return IdKeys(_key_file(keys_dir / ID_HASH_KEY_FILE), _key_file(keys_dir / ID_NUMBER_KEY_FILE))


def id_hash_key(keys_dir: Path) -> IdKeys:
    """The ID-hash key of ``keys_dir``, created (0600, 32 random bytes) on first use, with
    the ID-number sealing key beside it (:func:`id_keys`)."""
    return id_keys(keys_dir)


def _key_file(path: Path) -> bytes:
    """The 32-byte key in ``path``, created (0600, random) on first use.

    Created through a private temporary file hard-linked into place, so two processes
    starting together agree on one key: whoever links first wins, the other reads it.
    """
    keys_dir = path.parent
    if not path.exists():
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def _sealing_key(id_key: bytes) -> AESGCM:
    if not isinstance(id_key, IdKeys):
        raise IdHashKeyError("no ID-number key: pass the keys of id_keys(keys_dir)")
    return AESGCM(id_key.sealing)


def is_sealed(stored: str) -> bool:
    """Whether a stored ``members.id_number`` is sealed (else a plaintext legacy row)."""
    return stored.startswith(SEALED_PREFIX)


@overload
def seal_id_number(id_key: bytes, id_number: str) -> str: ...
@overload
def seal_id_number(id_key: bytes, id_number: None) -> None: ...
def seal_id_number(id_key: bytes, id_number: str | None) -> str | None:
    """The stored form of a normalised ID number (None stays None): a fresh random nonce
    each time, so equal numbers never look alike; compare through the hash."""
    if id_number is None:
        return None
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = _sealing_key(id_key).encrypt(nonce, id_number.encode(), _AAD)
    return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def open_id_number(id_key: bytes, stored: str) -> str:
    """The plaintext of a stored ID number: the one place an ID number is decrypted.

    Raises :class:`IdNumberSealError` for a row that is not sealed or does not open (another
    key, altered bytes).
    """
    if not is_sealed(stored):
        raise IdNumberSealError("the stored ID number is not sealed")
    try:
        raw = base64.b64decode(stored[len(SEALED_PREFIX) :], validate=True)
        plain = _sealing_key(id_key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
    except (binascii.Error, InvalidTag, ValueError) as exc:
        raise IdNumberSealError("the stored ID number does not open under this key") from exc
    return plain.decode()


def _plaintext(id_key: bytes, stored: str) -> str:
    """A stored number in the clear: opened if sealed, as-is if a legacy plaintext row."""
    return open_id_number(id_key, stored) if is_sealed(stored) else stored


def seal_id_numbers(session: Session, id_key: bytes, *, chunk: int = 1000) -> int:
    """Seal every member's plaintext ``id_number`` (rows from before sealing); flushes.

    Returns how many rows it sealed: 0 when run again (sealed rows are left alone).
    """
    sealed = 0
    for members in _members_in_chunks(session, chunk):
        for member in members:
            if member.id_number is not None and not is_sealed(member.id_number):
                member.id_number = seal_id_number(id_key, member.id_number)
                sealed += 1
        session.flush()
    return sealed


def _members_in_chunks(session: Session, chunk: int) -> Iterator[list[Member]]:
    last_id = 0
    while True:
        members = list(
            session.scalars(
                select(Member).where(Member.id > last_id).order_by(Member.id).limit(chunk)
            )
        )
        if not members:
            return
        yield members
        last_id = members[-1].id


def hash_id_number(key: bytes, id_number: str) -> str:
    """HMAC-SHA256 (hex) of a normalised ID number under the ID-hash ``key``."""
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()


def rehash_id_numbers(session: Session, key: bytes, *, chunk: int = 1000) -> int:
    """Recompute ``id_number_hash`` of every member with a stored ID number; flushes.

    Returns how many hashes changed (0 when run again with the same key). Members without
    an ID number get no hash. Sealed numbers are opened with the sealing key ``key``
    carries (:class:`IdKeys`).
    """
    changed = 0
    for members in _members_in_chunks(session, chunk):
        for member in members:
            stored = member.id_number
            wanted = None if stored is None else hash_id_number(key, _plaintext(key, stored))
            if member.id_number_hash != wanted:
                member.id_number_hash = wanted
                changed += 1
        session.flush()
    return changed


def rehash_database(database_url: str, keys_dir: Path) -> int:
    """:func:`rehash_id_numbers` on the database at ``database_url`` in one committed unit
    of work, with the key of ``keys_dir`` (created if missing). Returns the count changed."""
    from gate.db import make_engine, session_factory
    from gate.unit_of_work import UnitOfWork

    key = id_keys(keys_dir)
    engine = make_engine(database_url)
    try:
        with UnitOfWork(session_factory(engine), writes=True) as unit:
            return rehash_id_numbers(unit.session, key)
    finally:
        engine.dispose()


def seal_database(database_url: str, keys_dir: Path) -> int:
    """:func:`seal_id_numbers` on the database at ``database_url`` in one committed unit of
    work, with the keys of ``keys_dir`` (created if missing). Returns how many it sealed."""
    from gate.db import make_engine, session_factory
    from gate.unit_of_work import UnitOfWork

    key = id_keys(keys_dir)
    engine = make_engine(database_url)
    try:
        with UnitOfWork(session_factory(engine), writes=True) as unit:
            return seal_id_numbers(unit.session, key)
    finally:
        engine.dispose()
