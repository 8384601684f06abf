"""The shell tools of the core: key files, minting and verifying pass texts (no database)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import _register_commands, cli

_register_commands()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    code, output = _run("keys", "new", "--out", str(path))
    assert code == 0, output
    return path


def test_new_keyring_is_readable_by_its_owner_only(keyring: Path) -> None:
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600


def test_new_refuses_to_overwrite_and_add_appends_the_next_key_id(keyring: Path) -> None:
    assert _run("keys", "new", "--out", str(keyring))[0] == 1
    assert _run("keys", "new", "--out", str(keyring), "--add")[0] == 0
    code, listing = _run("keys", "list", str(keyring))
    assert code == 0
    assert [line.split()[0] for line in listing.splitlines()] == ["1", "2"]


def test_public_export_holds_no_private_key(keyring: Path, tmp_path: Path) -> None:
    code, output = _run("keys", "public", str(keyring))
    assert code == 0
    document = json.loads(output)
    assert document["format"] == "checkpoint-public-keys/1"
    assert "PRIVATE" not in output
    assert all("private_key_pem" not in key for key in document["keys"])


def test_minted_pass_verifies_with_the_public_keys_only(keyring: Path, tmp_path: Path) -> None:
    public = tmp_path / "public.json"
    public.write_text(_run("keys", "public", str(keyring))[1])
    code, text = _run(
        "passes",
        "mint",
        "--keys",
        str(keyring),
        "--household",
        "42",
        "--community",
        "7",
        "--generation",
        "3",
        "--valid-days",
        "10",
    )
    assert code == 0
    code, output = _run("passes", "verify", text.strip(), "--keys", str(public), "--json")
    result = json.loads(output)
    assert code == 0
    assert result["valid"] is True
    assert result["code"] is None
    assert (result["fields"]["household_id"], result["fields"]["community_id"]) == (42, 7)
    assert result["fields"]["generation"] == 3


def test_verify_exits_1_with_the_rejection_code(keyring: Path) -> None:
    text = _run("passes", "mint", "--keys", str(keyring), "--household", "1", "--community", "7")[
        1
    ].strip()
    code, output = _run(
        "passes", "verify", text, "--keys", str(keyring), "--community", "8", "--json"
    )
    assert code == 1
    assert json.loads(output)["code"] == "wrong_community"
    code, output = _run("passes", "verify", text.lower(), "--keys", str(keyring), "--json")
    assert code == 1
    assert json.loads(output) == {"valid": False, "code": "bad_format", "detail": "lowercase"}


def test_verify_usage_errors_exit_2(keyring: Path) -> None:
    assert _run("passes", "verify", "--keys", str(keyring))[0] == 2
    assert (
        _run("passes", "mint", "--keys", str(keyring), "--household", "-1", "--community", "1")[0]
        == 2
    )


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _run("keys", "list", str(tmp_path / "nope.json"))
    assert code == 1
    assert "no such key file" in output
