"""Uploaded household sheets kept between the import preview and its confirmation.

The preview stores the file under ``<instance dir>/imports/<community id>-<token><suffix>``
and shows a random token; the confirmation names the token and reads the same file again,
so what is imported is exactly what was previewed. A token only finds its own community's
upload. The sheet holds full ID numbers: it is written 0600 in a 0700 directory, deleted as
soon as an import of all its rows is done (or the preview finds nothing to import). An
import that skipped bad rows keeps it for the bad-rows download; like an abandoned one it
expires after an hour: a token older than that finds nothing, and every upload first
deletes the expired files (background-import progress files included).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from gate.settings import PRIVATE_FILE_MODE, private_directory

IMPORT_DIR = "imports"
MAX_AGE_SECONDS = 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class _Savable(Protocol):
    def save(self, dst: IO[bytes]) -> object: ...


@dataclass(frozen=True)
class StoredUpload:
    """One stored sheet: its token (shown to the office) and its path."""

    token: str
    path: Path

    def discard(self) -> None:
        """Delete the file (imported, or nothing to confirm)."""
        self.path.unlink(missing_ok=True)


class UploadStore:
    """The stored uploads of one instance directory."""

    def __init__(self, instance_dir: Path) -> None:
        self.directory = instance_dir / IMPORT_DIR

    def save(self, community_id: int, upload: _Savable, filename: str) -> StoredUpload:
        """Store ``upload`` (a Werkzeug ``FileStorage``) for ``community_id``, readable by
        the server's user only; expired uploads are deleted first."""
        private_directory(self.directory)
        self._drop_old()
        token = secrets.token_hex(16)
        path = self.directory / f"{community_id}-{token}{Path(filename).suffix.lower()}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                upload.save(handle)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StoredUpload(token, path)

    def find(self, community_id: int, token: str) -> StoredUpload | None:
        """The upload ``token`` of ``community_id``, or None (unknown, expired, malformed)."""
        if not _TOKEN.match(token) or not self.directory.is_dir():
            return None
        matches = sorted(self.directory.glob(f"{community_id}-{token}.*"))
        if not matches:
            return None
        if _expired(matches[0], time.time() - MAX_AGE_SECONDS):
            matches[0].unlink(missing_ok=True)
            return None
        return StoredUpload(token, matches[0])

    def _drop_old(self) -> None:
        cutoff = time.time() - MAX_AGE_SECONDS
        for path in self.directory.iterdir():
            if path.is_file() and _expired(path, cutoff):
                path.unlink(missing_ok=True)


def _expired(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # deleted meanwhile by another request's sweep
        return True
