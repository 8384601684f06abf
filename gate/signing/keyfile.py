"""Key files on the office machine: a private keyring (mode 0600) and public key sets.

A keyring file is JSON ``{"format": "checkpoint-keyring/1", "keys": [...]}`` whose
entries hold the private key PEM; a public key set file is
``{"format": "checkpoint-public-keys/1", "keys": [...]}`` without them. Files are
written atomically (temporary file, fsync, rename) so a crash never leaves half a key.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from passes import KeySet, SigningKey

KEYRING_FORMAT = "checkpoint-keyring/1"
PUBLIC_FORMAT = "checkpoint-public-keys/1"


class KeyFileError(Exception):
    """A key file is missing, unreadable or malformed; the message says which and why."""


def read_keyring(path: Path) -> list[SigningKey]:
    """The private keys in a keyring file."""
    data = _read_json(path)
    if data.get("format") != KEYRING_FORMAT:
        raise KeyFileError(f"{path}: not a private keyring (format {data.get('format')!r})")
    try:
        return [SigningKey.from_dict(item) for item in data["keys"]]  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"{path}: bad key entry: {exc}") from None


def read_keyset(path: Path) -> KeySet:
    """Public keys from either a keyring or a public key set file."""
    data = _read_json(path)
    if data.get("format") == KEYRING_FORMAT:
        return KeySet(tuple(key.entry for key in read_keyring(path)))
    if data.get("format") != PUBLIC_FORMAT:
        raise KeyFileError(f"{path}: not a Checkpoint key file")
    try:
        return KeySet.from_list(data["keys"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"{path}: bad key entry: {exc}") from None


def write_keyring(path: Path, keys: Sequence[SigningKey]) -> None:
    """Atomically write a private keyring readable by its owner only (0600), in a directory
    created 0700 if missing."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    document = {"format": KEYRING_FORMAT, "keys": [key.to_dict() for key in keys]}
    write_atomic(path, json.dumps(document, indent=2), mode=0o600)


def public_document(keys: KeySet) -> str:
    """The public key set as JSON text, safe to copy to gates."""
    return json.dumps({"format": PUBLIC_FORMAT, "keys": keys.to_list()}, indent=2)


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read key file: {exc}") from None
    if not isinstance(data, dict):
        raise KeyFileError(f"{path}: not a Checkpoint key file")
    return data


def write_atomic(path: Path, text: str, *, mode: int) -> None:
    """Write ``text`` to ``path`` with ``mode`` so readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
