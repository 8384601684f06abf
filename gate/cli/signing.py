"""``checkpoint keys``: signing key files, and the community's keys registered in the database.

File commands (``new``, ``list``, ``public``) need no database. ``create``, ``retire`` and
``revoke`` act on the keys the gate server signs and verifies with, and are audited.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate.cli.support import (
    actor_option,
    community_option,
    office_job,
    pick_community,
    translate,
)
from gate.signing.keyfile import (
    KeyFileError,
    public_document,
    read_keyring,
    read_keyset,
    write_keyring,
)
from gate.unit_of_work import DbSession
from passes import KeySet, SigningKey

if TYPE_CHECKING:
    from gate.community.models import Community


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
        raise click.ClickException(
            f"{path} 已存在；要往其中添加密钥请加 --add（file exists; use --add）"
        )
    try:
        existing = read_keyring(path) if add else []
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    taken = {key.entry.key_id for key in existing}
    if key_id is None:
        key_id = max(taken, default=0) + 1
    if key_id in taken:
        raise click.ClickException(f"密钥编号 {key_id} 已在 {path} 中（key id taken）")
    key = SigningKey.generate(key_id)
    write_keyring(path, [*existing, key])
    click.echo(
        f"已在 {path} 中创建密钥 {key_id}"
        f"（指纹 {fingerprint(key.entry.public_key)}）（key created）"
    )


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


# --- the community's registered keys ------------------------------------------------------------


@keys_group.command(
    "create",
    help=(
        "Create the community's next signing key: the private key goes to a file (mode 0600)\n"
        "under CHECKPOINT_KEYS_DIR, the public key into the database. New passes are signed\n"
        "with the newest active key.\n\n"
        "Example: checkpoint keys create --community xfl"
    ),
)
@community_option
@actor_option
def create_key(community_code: str | None, actor: str) -> None:
    """Create a registered key."""
    from gate.signing.operations import create_signing_key

    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        record = create_signing_key(
            session,
            community_id=community.id,
            keys_dir=job.settings.keys_dir,
            actor=actor,
            now=datetime.now(UTC),
        )
        click.echo(
            f"已为 {community.name} 创建签名密钥 {record.key_id}"
            f"（指纹 {fingerprint(record.public_key)}；私钥文件 {record.private_key_path}）"
            "（key created）"
        )


@keys_group.command(
    "retire",
    help=(
        "Stop signing new passes with a key. Passes it signed stay valid until they expire.\n"
        "Its private key file is deleted from this server; --backup-to first copies it to a\n"
        "new file (mode 0600) that you keep offline.\n\n"
        "Example: checkpoint keys retire 3 --backup-to /media/usb/signing-key-3.json"
    ),
)
@click.argument("key_id", type=click.IntRange(0, 0xFFFF))
@click.option(
    "--backup-to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Copy the private key here first (a file that does not exist yet).",
)
@community_option
@actor_option
def retire_key(key_id: int, backup_to: Path | None, community_code: str | None, actor: str) -> None:
    """Retire a registered key."""
    from gate.community.operations import CommunityError, community_key, retire_signing_key

    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        try:
            record = community_key(session, community, key_id)
            retire_signing_key(
                session, record, actor=actor, now=datetime.now(UTC), backup_to=backup_to
            )
        except CommunityError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        where = f"，已备份到 {backup_to}" if backup_to is not None else ""
        click.echo(f"密钥 {key_id} 已停用，私钥文件已从本机删除{where}（key retired）")
        _warn_without_active_key(session, community)


@keys_group.command(
    "revoke",
    help=(
        "Distrust a key (e.g. its file leaked): every pass it signed is refused from now on.\n"
        "Re-issue those households' passes with a new key afterwards.\n\n"
        'Example: checkpoint keys revoke 3 --reason "office laptop stolen"'
    ),
)
@click.argument("key_id", type=click.IntRange(0, 0xFFFF))
@click.option("--reason", required=True, help="Why, for the audit log.")
@community_option
@actor_option
def revoke_key(key_id: int, reason: str, community_code: str | None, actor: str) -> None:
    """Revoke a registered key."""
    from gate.community.operations import CommunityError, community_key, revoke_signing_key
    from gate.issuing.queries import households_holding_key

    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        try:
            record = community_key(session, community, key_id)
            revoke_signing_key(session, record, actor=actor, reason=reason, now=datetime.now(UTC))
        except CommunityError as exc:
            raise click.ClickException(translate(exc.message_id, **exc.params)) from None
        affected = households_holding_key(session, key_id)
        click.echo(
            f"密钥 {key_id} 已吊销，用它签发的出入证从现在起一律拒绝；"
            f"持有这类出入证的住户：{affected} 户（key revoked）"
        )
        if affected:
            click.echo("请为这些住户补办出入证：checkpoint passes reissue --household 户号")
        _warn_without_active_key(session, community)


def _warn_without_active_key(session: DbSession, community: Community) -> None:
    from gate.signing.queries import has_active_key

    if not has_active_key(session, community.id):
        click.echo(
            "警告：已没有可用的签名密钥，签发前请运行 `checkpoint keys create`"
            "（warning: no active signing key left; run `checkpoint keys create` before issuing）",
            err=True,
        )
