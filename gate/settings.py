"""The gate server's settings: one validated, frozen object built from environment variables.

This is the only module in ``gate`` that reads ``os.environ`` (in :func:`load_settings`);
everything else receives a :class:`Settings`.

Variables (default in brackets):

- ``CHECKPOINT_ENV``: ``development`` | ``production`` | ``test`` [development]
- ``CHECKPOINT_INSTANCE_DIR``: where local state lives [./var]
- ``CHECKPOINT_DATABASE_URL``: SQLAlchemy URL [sqlite:///<instance dir>/checkpoint.sqlite3];
  ``postgresql://`` URLs use psycopg 3
- ``CHECKPOINT_SECRET_KEY``: session and HMAC secret, at least 32 characters. Required in
  production; in development generated once and kept in ``<instance dir>/secret_key``; in test
  a random one per process
- ``CHECKPOINT_KEYS_DIR``: private signing keys [<instance dir>/keys]

The instance and keys directories hold personal data and private keys: created 0700 on
first use (:func:`private_directory`), and an existing one open to others is tightened to
0700 whenever settings are loaded (every start of the server or a command).
- ``CHECKPOINT_TIMEZONE``: default zone of new communities [Asia/Shanghai]
- ``CHECKPOINT_SCAN_DEADLINE_MS``: how long a scanner waits for the server before deciding
  offline [1000]
- ``CHECKPOINT_LOGIN_MAX_FAILURES``: failed logins per username or address before throttling [5]
- ``CHECKPOINT_LOGIN_WINDOW_SECONDS``: window over which failures count [900]
- ``CHECKPOINT_DEFAULT_LOCALE``: ``zh_CN`` | ``en`` [zh_CN]
- ``CHECKPOINT_PROXY_COUNT``: trusted reverse proxies in front of the server, whose
  ``X-Forwarded-*`` headers are believed (Werkzeug ProxyFix); 0 trusts none [0]
- ``CHECKPOINT_PUBLIC_URL``: the server's address as residents' phones reach it, e.g.
  ``https://pass.example.org`` (``checkpoint passes link`` builds links on it) [unset]
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "CHECKPOINT_"

DEFAULT_TIMEZONE = "Asia/Shanghai"
"""The zone of a community when ``CHECKPOINT_TIMEZONE`` names none (its one home)."""
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
MIN_SECRET_KEY_LENGTH = 32
LOCALES = ("zh_CN", "en")

_E = TypeVar("_E", bound=StrEnum)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Environment(StrEnum):
    """Where the server runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`from_env` (or :func:`load_settings`)."""

    env: Environment
    instance_dir: Path
    database_url: str
    secret_key: str
    keys_dir: Path
    timezone: str
    scan_deadline_ms: int
    login_max_failures: int
    login_window_seconds: int
    default_locale: str
    proxy_count: int = 0
    public_url: str | None = None

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def database_url_masked(self) -> str:
        """The database URL with its password hidden, for logs and the console."""
        return _mask_url(self.database_url)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for other databases and in-memory SQLite."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)

    def __repr__(self) -> str:
        # The secret must not end up in a log line or a traceback.
        return (
            f"Settings(env={self.env.value!r}, instance_dir={str(self.instance_dir)!r}, "
            f"database_url={_mask_url(self.database_url)!r}, keys_dir={str(self.keys_dir)!r}, "
            f"timezone={self.timezone!r}, scan_deadline_ms={self.scan_deadline_ms})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate ``CHECKPOINT_*`` variables from ``environ``.

        Raises :class:`SettingsError` naming the first bad variable. In development, the
        secret key is generated on first use and persisted (mode 0600) in the instance dir.
        """
        reader = _Reader(environ)
        env = reader.choice("ENV", Environment, Environment.DEVELOPMENT)
        instance_dir = reader.path("INSTANCE_DIR", Path("var")).resolve()
        database_url = reader.text(
            "DATABASE_URL", f"sqlite:///{instance_dir / 'checkpoint.sqlite3'}"
        )
        _check_database_url(database_url)
        keys_dir = reader.path("KEYS_DIR", instance_dir / "keys").resolve()
        for directory in (instance_dir, keys_dir):
            tighten(directory, PRIVATE_DIR_MODE)
        return cls(
            env=env,
            instance_dir=instance_dir,
            database_url=database_url,
            secret_key=_secret_key(reader, env, instance_dir),
            keys_dir=keys_dir,
            timezone=_timezone(reader.text("TIMEZONE", DEFAULT_TIMEZONE)),
            scan_deadline_ms=reader.integer("SCAN_DEADLINE_MS", 1000, low=50, high=60_000),
            login_max_failures=reader.integer("LOGIN_MAX_FAILURES", 5, low=1, high=1000),
            login_window_seconds=reader.integer("LOGIN_WINDOW_SECONDS", 900, low=1, high=86_400),
            default_locale=reader.choice_text("DEFAULT_LOCALE", LOCALES, "zh_CN"),
            proxy_count=reader.integer("PROXY_COUNT", 0, low=0, high=5),
            public_url=reader.text("PUBLIC_URL", "").rstrip("/") or None,
        )


def load_settings() -> Settings:
    """Settings from the process environment."""
    return Settings.from_env(os.environ)


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner can open (0700): created so (with any missing
    parents), or tightened if it exists open to others. Returns ``path``."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tighten(path, PRIVATE_DIR_MODE)
    return path


def tighten(path: Path, mode: int) -> None:
    """Remove the permission bits of an existing ``path`` beyond ``mode`` (nothing if it is
    missing, or not ours to change: a directory an administrator set up stays as set)."""
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            path.chmod(current & mode)
    except (FileNotFoundError, PermissionError):
        pass


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(PREFIX + name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def path(self, name: str, default: Path) -> Path:
        value = self.raw(name)
        return default if value is None else Path(value).expanduser()

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(PREFIX + name, f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise SettingsError(PREFIX + name, f"must be between {low} and {high}, got {number}")
        return number

    def choice(self, name: str, enum_class: type[_E], default: _E) -> _E:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return enum_class(value.lower())
        except ValueError:
            allowed = ", ".join(m.value for m in enum_class)
            raise SettingsError(PREFIX + name, f"must be one of {allowed}, got {value!r}") from None

    def choice_text(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise SettingsError(
                PREFIX + name, f"must be one of {', '.join(allowed)}, got {value!r}"
            )
        return value


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SettingsError(
            PREFIX + "DATABASE_URL", "not a database URL (e.g. postgresql://user@host/db)"
        ) from None
    if backend not in ("sqlite", "postgresql"):
        raise SettingsError(
            PREFIX + "DATABASE_URL", f"only sqlite and postgresql are supported, got {backend!r}"
        )


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory, etc.
        raise SettingsError(
            PREFIX + "TIMEZONE", f"unknown time zone {name!r} (e.g. {DEFAULT_TIMEZONE})"
        ) from None
    return name


def _secret_key(reader: _Reader, env: Environment, instance_dir: Path) -> str:
    variable = PREFIX + "SECRET_KEY"
    value = reader.raw("SECRET_KEY")
    if value is not None:
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                variable,
                f"must be at least {MIN_SECRET_KEY_LENGTH} characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")',
            )
        return value
    if env is Environment.PRODUCTION:
        raise SettingsError(variable, "required in production")
    if env is Environment.TEST:
        return secrets.token_urlsafe(48)
    return _persisted_secret_key(instance_dir / SECRET_KEY_FILE)


def _persisted_secret_key(path: Path) -> str:
    """Read the development secret, creating it on first use.

    Written to a private temporary file and hard-linked into place, so a concurrent first start
    never reads a half-written key: whoever links first wins, the other reads the winner's key.
    """
    if not path.exists():
        private_directory(path.parent)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            PREFIX + "SECRET_KEY", f"{path} is too short; delete it to generate a new one"
        )
    return value


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
