"""``checkpoint audit``: verify the log's hash chains; write and check signed checkpoints."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gate.cli.support import office_job, translate
from gate.community.queries import community_by_id, community_ids
from gate.unit_of_work import DbSession


@click.group(
    name="audit",
    help=(
        "Prove the crossing log is complete and unaltered: verify every gate's hash chain, "
        "write signed checkpoints to keep off this machine, check them later.\n\n"
        "Example: checkpoint audit verify"
    ),
)
def audit_group() -> None:
    """Audit commands."""


def say(message_id: str, **params: Any) -> str:
    """A message for the terminal: Chinese first (the UI catalogue), then the English."""
    english = message_id % params if params else message_id
    chinese = translate(message_id, **params)
    return english if chinese == english else f"{chinese}（{english}）"


def resolve_community(session: DbSession, community_id: int | None) -> int:
    """``community_id`` checked to exist, or the only community when None."""
    if community_id is not None:
        if community_by_id(session, community_id) is None:
            raise click.ClickException(say("no community with id %(id)d", id=community_id))
        return community_id
    ids = community_ids(session, limit=2)
    if not ids:
        raise click.ClickException(say("the database has no community yet"))
    if len(ids) > 1:
        raise click.ClickException(
            say("there are several communities: choose one with --community ID")
        )
    return ids[0]


def _progress(label: str) -> Any:
    started = time.monotonic()
    last = [0.0]

    def report(rows: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            rate = rows / max(now - started, 1e-9)
            click.echo(f"{label}: {rows:,} rows ({rate:,.0f}/s)", err=True)

    return report


@audit_group.command(
    "verify",
    help=(
        "Verify every gate's hash chain, row by row, and that each chain ends where its gate "
        "says. Exit status 0 when intact, 1 when tampered (the first bad row of each gate is "
        "printed).\n\n"
        "Example: checkpoint audit verify --community 350322 --json"
    ),
)
@click.option("--community", "community_id", type=int, help="Only this community's gates.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_command(community_id: int | None, as_json: bool) -> None:
    """Verify the log."""
    from gate.verification.log import verify_log

    started = time.monotonic()
    with office_job(writes=False) as job:
        if community_id is not None:
            resolve_community(job.session, community_id)
        report = verify_log(job.session, community_id, on_progress=_progress("verified"))
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for gate in report.gates:
            if gate.problem is None:
                click.echo(
                    f"OK        gate {gate.gate_code} (id {gate.gate_id}): "
                    f"{gate.rows_checked} rows, head {gate.head_seq} {gate.head_hash[:16]}"
                )
            else:
                crossing = gate.problem.crossing_id
                click.echo(
                    f"TAMPERED  gate {gate.gate_code} (id {gate.gate_id}): first bad row "
                    f"seq {gate.problem.gate_seq}"
                    + ("" if crossing is None else f" (crossing id {crossing})")
                    + f": {gate.problem.problem}; rows before it verify"
                )
        verdict = "intact" if report.ok else "TAMPERED"
        click.echo(f"{len(report.gates)} gates, {report.rows_checked} rows verified: {verdict}")
    rate = report.rows_checked / max(elapsed, 1e-9)
    click.echo(f"{elapsed:.1f} s, {rate:,.0f} rows/s", err=True)
    if not report.ok:
        sys.exit(1)


@audit_group.command(
    "checkpoint",
    help=(
        "Write a signed checkpoint (each gate's chain head, signed with the community's active "
        "key) after verifying the log; keep the file off this machine. With --verify, check an "
        "earlier checkpoint against the log instead (exit status 1 if it no longer holds).\n\n"
        "Example: checkpoint audit checkpoint --out /media/usb/checkpoint-2026-11-22.json\n\n"
        "Example: checkpoint audit checkpoint --verify checkpoint-2026-11-22.json "
        "--keys public-keys.json"
    ),
)
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Write a checkpoint here.")
@click.option(
    "--verify",
    "verify_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Check this checkpoint against the log.",
)
@click.option(
    "--keys",
    "keys_path",
    type=click.Path(path_type=Path),
    help="Public key set to check the signature with (default: the database's keys).",
)
@click.option("--community", "community_id", type=int, help="Default: the only community.")
def checkpoint_command(
    out_path: Path | None,
    verify_path: Path | None,
    keys_path: Path | None,
    community_id: int | None,
) -> None:
    """Write or check a checkpoint."""
    if out_path is None and verify_path is None:
        raise click.UsageError(
            say("give --out FILE to write a checkpoint or --verify FILE to check one")
        )
    if out_path is not None:
        _write_checkpoint(out_path, community_id)
    if verify_path is not None:
        _verify_checkpoint(verify_path, keys_path)


def _write_checkpoint(out_path: Path, community_id: int | None) -> None:
    from gate.signing.keyfile import write_atomic
    from gate.signing.operations import SigningKeyUnavailable, active_signing_key
    from gate.verification.checkpoints import LogNotIntact, record_checkpoint, write_checkpoint

    now = datetime.now(UTC)
    # The walk reads the whole log: a read-only job, so it never holds SQLite's write lock.
    with office_job(writes=False) as job:
        community_id = resolve_community(job.session, community_id)
        try:
            key = active_signing_key(job.session, community_id)
        except SigningKeyUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        try:
            document = write_checkpoint(job.session, key, now, community_id=community_id)
        except LogNotIntact as exc:
            broken = ", ".join(
                f"{gate.gate_code} #{gate.problem.gate_seq} {gate.problem.problem}"
                for gate in exc.report.broken
                if gate.problem is not None
            )
            click.echo(
                say("No checkpoint written: the log does not verify (%(gates)s).", gates=broken),
                err=True,
            )
            click.echo(say("Run `checkpoint audit verify` for details."), err=True)
            sys.exit(1)
    write_atomic(out_path, json.dumps(document, ensure_ascii=False, indent=2) + "\n", mode=0o644)
    # A separate, short writing job records the event once the file is safely written.
    with office_job(writes=True) as job:
        record_checkpoint(job.session, document, file_name=out_path.name, actor="cli")
    for gate in document["gates"]:
        click.echo(f"gate {gate['gate_code']}: row {gate['gate_seq']} {gate['row_hash'][:16]}")
    click.echo(say("Checkpoint written to %(path)s: copy it off this machine.", path=out_path))


def _verify_checkpoint(verify_path: Path, keys_path: Path | None) -> None:
    from gate.cli.signing import load_keyset
    from gate.community.context import load_context
    from gate.verification.checkpoints import verify_checkpoint

    try:
        document = json.loads(verify_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(
            say("%(path)s is not a readable checkpoint: %(error)s", path=verify_path, error=exc)
        ) from None
    if not isinstance(document, dict):
        raise click.ClickException(say("%(path)s is not a checkpoint.", path=verify_path))
    with office_job(writes=False) as job:
        if keys_path is not None:
            keys = load_keyset(keys_path)
        else:
            community = document.get("community")
            if not isinstance(community, int):
                raise click.ClickException(say("%(path)s is not a checkpoint.", path=verify_path))
            try:
                keys = load_context(job.session, community).keys
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(
                say(
                    "Note: the signature is checked with the database's own keys; "
                    "--keys FILE with a copy kept elsewhere is stronger."
                ),
                err=True,
            )
        problems = verify_checkpoint(job.session, document, keys)
    if problems:
        for problem in problems:
            click.echo(f"FAILED  {problem}")
        sys.exit(1)
    click.echo(
        say(
            "Checkpoint %(path)s holds: every gate's log up to it is unchanged.",
            path=verify_path,
        )
    )
