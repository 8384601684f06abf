"""Settings come from CHECKPOINT_* variables, validated, with errors naming the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gate.settings import Environment, Settings, SettingsError

GOOD_SECRET = "s" * 40


def _settings(tmp_path: Path, **variables: str) -> Settings:
    environ = {"CHECKPOINT_INSTANCE_DIR": str(tmp_path / "var")}
    environ.update({f"CHECKPOINT_{name}": value for name, value in variables.items()})
    return Settings.from_env(environ)


def test_defaults_make_a_working_development_setup(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    assert settings.env is Environment.DEVELOPMENT
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'checkpoint.sqlite3'}"
    assert settings.keys_dir == tmp_path / "var" / "keys"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.scan_deadline_ms == 1000
    assert settings.default_locale == "zh_CN"


def test_development_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = _settings(tmp_path)
    second = _settings(tmp_path)

    secret_file = tmp_path / "var" / "secret_key"
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CHECKPOINT_SECRET_KEY") as caught:
        _settings(tmp_path, ENV="production")

    assert caught.value.variable == "CHECKPOINT_SECRET_KEY"
    assert not (tmp_path / "var" / "secret_key").exists()


def test_production_accepts_a_long_enough_secret(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ENV="production", SECRET_KEY=GOOD_SECRET)

    assert settings.is_production
    assert settings.secret_key == GOOD_SECRET


def test_test_environment_uses_a_fresh_secret_without_writing_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ENV="test")

    assert len(settings.secret_key) >= 32
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ENV", "staging"),
        ("SECRET_KEY", "short"),
        ("TIMEZONE", "Mars/Olympus_Mons"),
        ("TIMEZONE", "Asia"),
        ("TIMEZONE", "x" * 300),
        ("SCAN_DEADLINE_MS", "fast"),
        ("SCAN_DEADLINE_MS", "0"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://root@localhost/checkpoint"),
        ("DEFAULT_LOCALE", "fr"),
        ("LOGIN_MAX_FAILURES", "-1"),
    ],
)
def test_bad_value_is_refused_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _settings(tmp_path, **{variable: value})

    assert caught.value.variable == f"CHECKPOINT_{variable}"
    assert str(caught.value).startswith(f"CHECKPOINT_{variable}: ")


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ENV="test")

    with pytest.raises(AttributeError):
        settings.timezone = "UTC"  # type: ignore[misc]


def test_repr_hides_the_secret_and_the_database_password(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        SECRET_KEY=GOOD_SECRET,
        DATABASE_URL="postgresql://checkpoint:hunter2@db/checkpoint",
    )

    assert GOOD_SECRET not in repr(settings)
    assert "hunter2" not in repr(settings)
