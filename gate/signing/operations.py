"""The community's signing keys: creation, loading the private key for issuing, rotation.

Private keys live in keyring files under the keys directory (mode 0600), one file per
key; the database holds the public part, the status and the file's path.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.signing.keyfile import KeyFileError, read_keyring, write_keyring
from gate.signing.models import SigningKeyRecord
from passes import KeyStatus, SigningKey


class SigningKeyUnavailable(Exception):
    """No usable private key: the message says what to do."""


def create_signing_key(
    session: Session, *, community_id: int, keys_dir: Path, actor: str, now: datetime
) -> SigningKeyRecord:
    """Generate a key, write its private part to ``keys_dir``, record its public part."""
    now = now.replace(microsecond=0)  # passes carry whole seconds; the key must cover them
    next_id = (session.scalar(select(func.max(SigningKeyRecord.key_id))) or 0) + 1
    key = SigningKey.generate(next_id, not_before=now)
    path = keys_dir / f"signing-key-{next_id}.json"
    write_keyring(path, [key])
    record = SigningKeyRecord(
        key_id=next_id,
        community_id=community_id,
        algorithm=key.entry.algorithm,
        public_key=key.entry.public_key,
        status=KeyStatus.ACTIVE,
        not_before=now,
        private_key_path=str(path),
    )
    session.add(record)
    record_event(
        session,
        actor=actor,
        action="key.create",
        community_id=community_id,
        subject_type="signing_key",
        subject_id=next_id,
    )
    session.flush()
    return record


def active_signing_key(session: Session, community_id: int) -> SigningKey:
    """The newest active key of the community with its private part loaded."""
    record = session.scalar(
        select(SigningKeyRecord)
        .where(
            SigningKeyRecord.community_id == community_id,
            SigningKeyRecord.status == KeyStatus.ACTIVE,
            SigningKeyRecord.private_key_path.is_not(None),
        )
        .order_by(SigningKeyRecord.key_id.desc())
        .limit(1)
    )
    if record is None or record.private_key_path is None:
        raise SigningKeyUnavailable(
            "no active signing key for this community: run `checkpoint keys create`"
        )
    return load_private_key(record)


def load_private_key(record: SigningKeyRecord) -> SigningKey:
    """The private key of ``record`` from its keyring file."""
    if record.private_key_path is None:
        raise SigningKeyUnavailable(f"key {record.key_id} has no private key on this machine")
    try:
        keys = read_keyring(Path(record.private_key_path))
    except KeyFileError as exc:
        raise SigningKeyUnavailable(str(exc)) from None
    for key in keys:
        if key.entry.key_id == record.key_id and key.entry.public_key == record.public_key:
            return key
    raise SigningKeyUnavailable(f"{record.private_key_path} does not hold key {record.key_id}")
