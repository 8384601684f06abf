"""``checkpoint passes``: mint and verify pass texts from the shell.

``mint`` is for emergencies when the server is down, and for tests; ordinary issuing
goes through the registry so every pass is recorded.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from gate.signing.cli import load_keyset
from gate.signing.keyfile import KeyFileError, read_keyring
from passes import (
    KeyStatus,
    Pass,
    PassError,
    PassRejected,
    VerifiedPass,
    format_utc,
    new_pass_id,
    parse_pass,
    verify_pass,
)


@click.group(name="passes", help="Household passes: mint, verify.")
def passes_group() -> None:
    """Pass commands."""


@passes_group.command(
    "mint",
    help=(
        "Print a signed pass text for one household (not recorded in any database).\n\n"
        "Example: checkpoint passes mint --keys keys.json --household 42 --community 1"
    ),
)
@click.option("--keys", "keys_path", type=click.Path(path_type=Path), required=True)
@click.option("--household", type=click.IntRange(0, 0xFFFFFFFF), required=True)
@click.option("--community", type=click.IntRange(0, 0xFFFFFFFF), required=True)
@click.option("--generation", type=click.IntRange(0, 0xFFFF), default=1, show_default=True)
@click.option("--valid-days", type=click.IntRange(1, 3660), default=30, show_default=True)
@click.option("--key-id", type=click.IntRange(0, 0xFFFF), help="Default: newest active key.")
def mint(
    keys_path: Path,
    household: int,
    community: int,
    generation: int,
    valid_days: int,
    key_id: int | None,
) -> None:
    """Mint a pass."""
    try:
        keyring = read_keyring(keys_path)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    usable = [k for k in keyring if k.entry.status is KeyStatus.ACTIVE]
    if key_id is not None:
        usable = [k for k in usable if k.entry.key_id == key_id]
    if not usable:
        raise click.ClickException(f"no active signing key in {keys_path}")
    key = max(usable, key=lambda k: k.entry.key_id)
    issued_at = datetime.now(UTC).replace(microsecond=0)
    fields = Pass(
        key_id=key.entry.key_id,
        pass_id=new_pass_id(),
        household_id=household,
        community_id=community,
        generation=generation,
        issued_at=issued_at,
        valid_until=issued_at + timedelta(days=valid_days),
    )
    click.echo(key.sign(fields))


@passes_group.command(
    "verify",
    help=(
        "Check a pass text's validity (signature, key, community, dates; no household rules).\n"
        "Exit status 0 when valid, 1 when refused, 2 on usage errors.\n\n"
        "Example: checkpoint passes verify 'CP1:...' --keys public-keys.json --json"
    ),
)
@click.argument("text")
@click.option("--keys", "keys_path", type=click.Path(path_type=Path), required=True)
@click.option("--community", type=click.IntRange(0, 0xFFFFFFFF), help="Default: the pass's own.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(text: str, keys_path: Path, community: int | None, as_json: bool) -> None:
    """Verify a pass."""
    keys = load_keyset(keys_path)
    now = datetime.now(UTC)
    if community is None:  # only picks which community to check; the signature still decides
        try:
            community = parse_pass(text).fields.community_id
        except PassError:
            community = 0
    check = verify_pass(text, keys, community_id=community, now=now)
    valid = isinstance(check, VerifiedPass)
    result: dict[str, object] = {"valid": valid, "code": None}
    if isinstance(check, PassRejected):
        result["code"] = check.code.value
        result["detail"] = check.detail
    else:
        f = check.fields
        result["fields"] = {
            "version": f.version,
            "key_id": f.key_id,
            "pass_id": f.pass_id.hex(),
            "household_id": f.household_id,
            "community_id": f.community_id,
            "generation": f.generation,
            "issued_at": format_utc(f.issued_at),
            "valid_until": format_utc(f.valid_until),
        }
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    elif valid:
        click.echo("valid " + json.dumps(result["fields"]))
    else:
        click.echo(f"refused: {result['code']} ({result['detail']})")
    sys.exit(0 if valid else 1)
