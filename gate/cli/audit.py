"""``checkpoint audit``: verify the log's hash chains; write and check signed checkpoints."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gate.cli.support import actor_option, office_job, pick_community, translate
from gate.errors import N_
from gate.unit_of_work import DbSession
from gate.web.labels import CHAIN_PROBLEM_LABELS


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


def community_option(command: Any) -> Any:
    """``--community CODE``: a community's code or id."""
    return click.option(
        "--community",
        "community_code",
        metavar="CODE",
        help="Community code or id (verify: default every community; checkpoint: the only one).",
    )(command)


def problem_words(problem: str) -> str:
    """A chain break's problem code in Chinese (unknown codes as they are)."""
    message_id = CHAIN_PROBLEM_LABELS.get(problem)
    return problem if message_id is None else translate(message_id)


def gate_names(session: DbSession, community_ids: set[int]) -> dict[int, str]:
    """Gate id -> the name the office gave it, for the gates of ``community_ids``."""
    from gate.devices.queries import gates_with_devices

    return {
        gate.id: gate.name or gate.code
        for community_id in community_ids
        for gate in gates_with_devices(session, community_id)
    }


def _progress(label: str) -> Any:
    started = time.monotonic()
    last = [0.0]

    def report(rows: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            rate = rows / max(now - started, 1e-9)
            click.echo(
                translate(label, rows=f"{rows:,}", rate=f"{rate:,.0f}"),
                err=True,
            )

    return report


@audit_group.command(
    "verify",
    help=(
        "Verify every gate's hash chain, row by row, and that each chain ends where its gate "
        "says. Exit status 0 when intact, 1 when tampered (the first bad row of each gate is "
        "printed).\n\n"
        "校验每个出入口的哈希链：记录是否完整、未被改动。\n\n"
        "Example: checkpoint audit verify --community xfl --json"
    ),
)
@community_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_command(community_code: str | None, as_json: bool) -> None:
    """Verify the log."""
    from gate.verification.log import verify_log

    started = time.monotonic()
    with office_job(writes=False) as job:
        community_id = None
        if community_code is not None:
            community_id = pick_community(job.session, community_code).id
        report = verify_log(
            job.session,
            community_id,
            on_progress=_progress(N_("verified %(rows)s rows (%(rate)s rows/s)")),
        )
        names = gate_names(job.session, {gate.community_id for gate in report.gates})
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for gate in report.gates:
            name = names.get(gate.gate_id, gate.gate_code)
            if gate.problem is None:
                click.echo(
                    translate(
                        N_("OK: gate %(gate)s: %(rows)d rows verified, last row %(seq)d %(hash)s"),
                        gate=name,
                        rows=gate.rows_checked,
                        seq=gate.head_seq,
                        hash=gate.head_hash[:16],
                    )
                )
            else:
                crossing = gate.problem.crossing_id
                click.echo(
                    translate(
                        N_(
                            "TAMPERED: gate %(gate)s: first bad row %(seq)d (crossing id "
                            "%(crossing)s): %(problem)s; the rows before it verify"
                        ),
                        gate=name,
                        seq=gate.problem.gate_seq,
                        crossing="-" if crossing is None else str(crossing),
                        problem=problem_words(gate.problem.problem),
                    )
                )
        summary = (
            N_("%(gates)d gates, %(rows)d rows verified: intact")
            if report.ok
            else N_("%(gates)d gates, %(rows)d rows verified: TAMPERED")
        )
        click.echo(say(summary, gates=len(report.gates), rows=report.rows_checked))
        if report.from_checkpoint_at is not None:  # a privacy purge cut the chains there
            click.echo(
                say(
                    N_("verified from checkpoint of %(date)s (the rows before it were purged)"),
                    date=report.from_checkpoint_at.strftime("%Y-%m-%d %H:%M UTC"),
                )
            )
    rate = report.rows_checked / max(elapsed, 1e-9)
    click.echo(
        translate(
            N_("%(seconds)s s, %(rate)s rows/s"), seconds=f"{elapsed:.1f}", rate=f"{rate:,.0f}"
        ),
        err=True,
    )
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
@community_option
@actor_option
def checkpoint_command(
    out_path: Path | None,
    verify_path: Path | None,
    keys_path: Path | None,
    community_code: str | None,
    actor: str,
) -> None:
    """Write or check a checkpoint."""
    if out_path is None and verify_path is None:
        raise click.UsageError(
            say(N_("Give --out FILE to write a checkpoint or --verify FILE to check one."))
        )
    if out_path is not None:
        _write_checkpoint(out_path, community_code, actor)
    if verify_path is not None:
        _verify_checkpoint(verify_path, keys_path)


def _write_checkpoint(out_path: Path, community_code: str | None, actor: str) -> None:
    from gate.signing.keyfile import write_atomic
    from gate.signing.operations import SigningKeyUnavailable, active_signing_key
    from gate.verification.checkpoints import LogNotIntact, record_checkpoint, write_checkpoint

    now = datetime.now(UTC)
    # The walk reads the whole log: a read-only job, so it never holds SQLite's write lock.
    with office_job(writes=False) as job:
        community_id = pick_community(job.session, community_code).id
        try:
            key = active_signing_key(job.session, community_id)
        except SigningKeyUnavailable:
            raise click.ClickException(
                say(N_("The community has no active signing key: run `checkpoint keys create`."))
            ) from None
        try:
            document = write_checkpoint(job.session, key, now, community_id=community_id)
        except LogNotIntact as exc:
            broken = "、".join(
                f"{gate.gate_code} #{gate.problem.gate_seq} {problem_words(gate.problem.problem)}"
                for gate in exc.report.broken
                if gate.problem is not None
            )
            click.echo(
                say(
                    N_("No checkpoint written: the log does not verify (%(gates)s)."), gates=broken
                ),
                err=True,
            )
            click.echo(say(N_("Run `checkpoint audit verify` for details.")), err=True)
            sys.exit(1)
    write_atomic(out_path, json.dumps(document, ensure_ascii=False, indent=2) + "\n", mode=0o644)
    # A separate, short writing job records the event once the file is safely written.
    with office_job(writes=True) as job:
        record_checkpoint(job.session, document, file_name=out_path.name, actor=actor)
    for gate in document["gates"]:
        click.echo(
            translate(
                N_("gate %(gate)s: last row %(seq)d %(hash)s"),
                gate=gate["gate_code"],
                seq=gate["gate_seq"],
                hash=gate["row_hash"][:16],
            )
        )
    click.echo(say(N_("Checkpoint written to %(path)s: copy it off this machine."), path=out_path))


def _verify_checkpoint(verify_path: Path, keys_path: Path | None) -> None:
    from gate.cli.signing import load_keyset
    from gate.community.context import load_context
    from gate.verification.checkpoints import verify_checkpoint

    try:
        document = json.loads(verify_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(
            say(N_("%(path)s is not a readable checkpoint: %(error)s"), path=verify_path, error=exc)
        ) from None
    if not isinstance(document, dict):
        raise click.ClickException(say(N_("%(path)s is not a checkpoint."), path=verify_path))
    with office_job(writes=False) as job:
        if keys_path is not None:
            keys = load_keyset(keys_path)
        else:
            community = document.get("community")
            if not isinstance(community, int):
                raise click.ClickException(
                    say(N_("%(path)s is not a checkpoint."), path=verify_path)
                )
            try:
                keys = load_context(job.session, community).keys
            except LookupError:
                raise click.ClickException(
                    say(N_("No community with id %(id)d."), id=community)
                ) from None
            click.echo(
                say(
                    N_(
                        "Note: the signature is checked with the database's own keys; "
                        "--keys FILE with a copy kept elsewhere is stronger."
                    )
                ),
                err=True,
            )
        problems = verify_checkpoint(job.session, document, keys)
    if problems:
        for problem in problems:
            click.echo(say(N_("FAILED: %(problem)s"), problem=problem))
        sys.exit(1)
    click.echo(
        say(
            N_("Checkpoint %(path)s holds: every gate's log up to it is unchanged."),
            path=verify_path,
        )
    )
