"""The device's identity on disk: server URL, device token, gate and community, and the data dir.

Layout of the data directory (default ``~/.local/share/checkpoint-scanner``, or
``$XDG_DATA_HOME/checkpoint-scanner``)::

    device.json    written by ``enroll``; mode 0600 because it holds the bearer token
    journal.db     the local journal (SQLite, see :mod:`scanner.journal`)

``device.json`` is written atomically (temporary file, fsync, rename), created with mode
0600 from the start so the token is never readable by other users, even briefly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from passes.rules import DEFAULT_TIMEZONE

DEVICE_FILE = "device.json"
JOURNAL_FILE = "journal.db"
APP_DIR = "checkpoint-scanner"


class DeviceConfigError(Exception):
    """``device.json`` is missing fields or is not JSON; the message says what to do."""


@dataclass(frozen=True)
class DeviceConfig:
    """What enrolment returned, plus the server it came from. ``token`` is secret."""

    server: str
    device_id: int | str
    token: str
    gate_id: int
    gate_code: str
    gate_name: str
    community_id: int
    community_name: str
    timezone: str

    @classmethod
    def from_enrollment(cls, server: str, data: Mapping[str, Any]) -> DeviceConfig:
        """Build from the enroll response body; raises DeviceConfigError on a bad shape."""
        try:
            gate, community = data["gate"], data["community"]
            return cls(
                server=server.rstrip("/"),
                device_id=data["device_id"],
                token=str(data["token"]),
                gate_id=int(gate["id"]),
                gate_code=str(gate["code"]),
                gate_name=str(gate["name"]),
                community_id=int(community["id"]),
                community_name=str(community["name"]),
                timezone=str(community.get("timezone") or DEFAULT_TIMEZONE),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeviceConfigError(f"enrolment answer is missing a field: {exc}") from None


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/checkpoint-scanner`` or ``~/.local/share/checkpoint-scanner``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (mode 0700) if needed and return it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir


def save_device(data_dir: Path, config: DeviceConfig) -> Path:
    """Write ``device.json`` atomically with mode 0600; returns its path."""
    ensure_data_dir(data_dir)
    target = data_dir / DEVICE_FILE
    temporary = data_dir / (DEVICE_FILE + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(config), out, ensure_ascii=False, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, 0o600)  # O_CREAT's mode is masked by umask only downwards; be explicit
    os.replace(temporary, target)
    return target


def load_device(data_dir: Path) -> DeviceConfig | None:
    """The enrolled device, or None if this data dir was never enrolled."""
    path = data_dir / DEVICE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DeviceConfig(**data)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, TypeError) as exc:
        raise DeviceConfigError(
            f"设备配置文件 {path} 已损坏，请重新登记（enroll） / {path} is damaged: enroll again"
            f" ({exc})"
        ) from None
