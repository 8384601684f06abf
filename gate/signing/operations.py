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
from gate.errors import N_, CodedError
from gate.signing.keyfile import KeyFileError, read_keyring, write_keyring
from gate.signing.models import SigningKeyRecord
from passes import KeyStatus, SigningKey

SIGNING_MESSAGES: dict[str, str] = {
    "no_active_key": N_(
        "This community has no active signing key: run `checkpoint keys create` first."
    ),
    "no_private_key": N_("The private part of signing key %(key_id)d is not on this server."),
    "key_file_unreadable": N_("Cannot read the key file of signing key %(key_id)d: %(detail)s"),
    "key_not_in_file": N_("The key file %(path)s does not hold signing key %(key_id)d."),
}
"""The English message id of each :class:`SigningKeyUnavailable` code (parameters: ``params``)."""


class SigningKeyUnavailable(CodedError):
    """No usable private key: a stable ``code`` and the ``params`` of its message.

    Entry points show ``gettext(exc.message_id, **exc.params)`` (CLIs: Chinese first);
    ``str()`` is the English text, for logs.
    """

    messages = SIGNING_MESSAGES


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
        raise SigningKeyUnavailable("no_active_key")
    return load_private_key(record)


def load_private_key(record: SigningKeyRecord) -> SigningKey:
    """The private key of ``record`` from its keyring file."""
    if record.private_key_path is None:
        raise SigningKeyUnavailable("no_private_key", key_id=record.key_id)
    try:
        keys = read_keyring(Path(record.private_key_path))
    except KeyFileError as exc:
        raise SigningKeyUnavailable(
            "key_file_unreadable", key_id=record.key_id, detail=str(exc)
        ) from None
    for key in keys:
        if key.entry.key_id == record.key_id and key.entry.public_key == record.public_key:
            return key
    raise SigningKeyUnavailable(
        "key_not_in_file", path=record.private_key_path, key_id=record.key_id
    )
