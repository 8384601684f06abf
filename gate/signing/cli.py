"""``checkpoint keys``: create and inspect signing key files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from gate.signing.keyfile import (
    KeyFileError,
    public_document,
    read_keyring,
    read_keyset,
    write_keyring,
)
from passes import KeySet, SigningKey


@click.group(name="keys", help="Signing keys for passes (the private keyring stays in the office).")
def keys_group() -> None:
    """Key commands."""


@keys_group.command(
    "new",
    help=(
        "Create a signing key pair in a new keyring file (mode 0600), or add one with --add.\n\n"
        "Example: checkpoint keys new --out /etc/checkpoint/keys.json"
    ),
)
@click.option("--out", "path", type=click.Path(path_type=Path), required=True, help="Keyring file.")
@click.option("--key-id", type=click.IntRange(0, 0xFFFF), help="Key id (default: next free).")
@click.option("--add", is_flag=True, help="Add a key to an existing keyring.")
def new_key(path: Path, key_id: int | None, add: bool) -> None:
    """Create a key."""
    if path.exists() and not add:
        raise click.ClickException(f"{path} already exists; use --add to add a key to it")
    try:
        existing = read_keyring(path) if add else []
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    taken = {key.entry.key_id for key in existing}
    if key_id is None:
        key_id = max(taken, default=0) + 1
    if key_id in taken:
        raise click.ClickException(f"key id {key_id} is already in {path}")
    key = SigningKey.generate(key_id)
    write_keyring(path, [*existing, key])
    click.echo(f"key {key_id} created in {path} (fingerprint {fingerprint(key.entry.public_key)})")


@keys_group.command(
    "list", help="List the keys in a key file.\n\nExample: checkpoint keys list keys.json"
)
@click.argument("path", type=click.Path(path_type=Path))
def list_keys(path: Path) -> None:
    """List keys."""
    for entry in load_keyset(path):
        click.echo(
            f"{entry.key_id:5d}  {entry.status.value:8s}  {entry.algorithm}  "
            f"{fingerprint(entry.public_key)}"
        )


@keys_group.command(
    "public",
    help=(
        "Print the public key set (safe to copy to gates).\n\n"
        "Example: checkpoint keys public keys.json > public-keys.json"
    ),
)
@click.argument("path", type=click.Path(path_type=Path))
def public_keys(path: Path) -> None:
    """Export public keys."""
    click.echo(public_document(load_keyset(path)))


def load_keyset(path: Path) -> KeySet:
    """Public keys from a key file, or a clean CLI error."""
    try:
        return read_keyset(path)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None


def fingerprint(public_key: bytes) -> str:
    """A short, stable name for a public key (first 64 bits of its SHA-256)."""
    return hashlib.sha256(public_key).hexdigest()[:16]
