"""Uploaded household sheets kept between the import preview and its confirmation.

The preview stores the file under ``<instance dir>/imports/<community id>-<token><suffix>``
and shows a random token; the confirmation names the token and reads the same file again,
so what is imported is exactly what was previewed. A token only finds its own community's
upload; uploads older than a day are deleted when the next one arrives.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

IMPORT_DIR = "imports"
MAX_AGE_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class _Savable(Protocol):
    def save(self, dst: str) -> object: ...


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
        """Store ``upload`` (a Werkzeug ``FileStorage``) for ``community_id``; old uploads
        are dropped first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._drop_old()
        token = secrets.token_hex(16)
        path = self.directory / f"{community_id}-{token}{Path(filename).suffix.lower()}"
        upload.save(str(path))
        return StoredUpload(token, path)

    def find(self, community_id: int, token: str) -> StoredUpload | None:
        """The upload ``token`` of ``community_id``, or None (unknown, expired, malformed)."""
        if not _TOKEN.match(token) or not self.directory.is_dir():
            return None
        matches = sorted(self.directory.glob(f"{community_id}-{token}.*"))
        return StoredUpload(token, matches[0]) if matches else None

    def _drop_old(self) -> None:
        cutoff = time.time() - MAX_AGE_SECONDS
        for path in self.directory.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
