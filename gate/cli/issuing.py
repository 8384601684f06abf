"""``checkpoint passes``: issue, re-issue, revoke and print registered passes; mint and verify.

``issue``/``reissue``/``revoke``/``print``/``card`` work on the database: one unit of work per
command (``office_job``), each action audited by its operation with ``--actor`` (default
``cli:<OS user>``). ``mint`` is for
emergencies when the server is down, and for tests; ordinary issuing goes through the
registry so every pass is recorded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from gate.cli.signing import load_keyset
from gate.cli.support import (
    RunningCount,
    actor_option,
    community_option,
    office_job,
    pick_community,
    progress_bar,
    translate,
)
from gate.errors import N_
from gate.signing.keyfile import KeyFileError, read_keyring
from gate.unit_of_work import DbSession
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

if TYPE_CHECKING:
    from gate.community.models import Community
    from gate.households.models import Household
    from gate.issuing.operations import IssuingError


@click.group(
    name="passes",
    help=(
        "Household passes: issue, reissue, revoke and print from the registry; mint and\n"
        "verify pass texts.\n\nExample: checkpoint passes issue --all"
    ),
)
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
@click.option("--valid-days", type=click.IntRange(1, 400), default=30, show_default=True)
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


# --- the registry: issue, re-issue, revoke, print (one unit of work per command, audited) ------


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: IssuingError, household_code: str | None = None) -> click.ClickException:
    """The refusal in Chinese (the CLI's language), prefixed with the household if given."""
    message = translate(exc.message_id, **exc.params)
    return click.ClickException(f"{household_code}: {message}" if household_code else message)


@passes_group.command(
    "issue",
    help=(
        "Issue passes from the registry: to households, a building, a grid or all.\n"
        "Households that already hold a valid pass of their current generation are skipped\n"
        "unless --force, which issues an additional pass (earlier cards stay valid until they\n"
        "expire). --reissue gives every chosen household a new pass and kills its earlier\n"
        "cards (a new generation). Large runs are committed in batches of 250 households.\n\n"
        "为住户签发出入证：按户、按楼栋、按网格或全部；已有有效出入证的住户默认跳过。\n\n"
        "Example: checkpoint passes issue --building 3 --valid-days 30\n"
        "Example: checkpoint passes issue --grid 第1网格 --reissue --reason 换发新证"
    ),
)
@click.option("--all", "all_households", is_flag=True, help="Every household.")
@click.option("--household", "codes", multiple=True, metavar="CODE", help="Repeatable.")
@click.option("--building", metavar="B", help="Building code or name.")
@click.option("--grid", metavar="G", help="Grid code or name.")
@click.option("--valid-days", type=click.IntRange(1, 400), default=30, show_default=True)
@click.option("--force", is_flag=True, help="Issue even if a valid pass exists.")
@click.option("--reissue", is_flag=True, help="New generation: earlier cards stop working.")
@click.option("--reason", help="Why, for the audit log (re-issuing).")
@community_option
@actor_option
def issue_command(
    all_households: bool,
    codes: tuple[str, ...],
    building: str | None,
    grid: str | None,
    valid_days: int,
    force: bool,
    reissue: bool,
    reason: str | None,
    community_code: str | None,
    actor: str,
) -> None:
    """Issue passes."""
    from gate.issuing.bulk import issue_all, plan_bulk_issue
    from gate.issuing.operations import IssuingError

    chosen = (all_households, bool(codes), building is not None, grid is not None)
    if sum(chosen) != 1:
        raise click.UsageError(
            translate(N_("Choose exactly one of --all, --household, --building or --grid."))
        )
    if force and reissue:
        raise click.UsageError(translate(N_("--force and --reissue do not go together.")))
    now = _now()
    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        households = _households(session, community, codes=codes, building=building, grid=grid)
        try:
            run = plan_bulk_issue(
                session,
                community.id,
                households,
                now=now,
                reissue=reissue,
                valid_days=valid_days,
                force=force,
            )
        except IssuingError as exc:
            raise _refused(exc) from None
        progress = RunningCount()
        with progress_bar(len(run.todo), "签发") as progress.advance:

            def after_batch(done: int) -> None:
                job.unit.commit()  # a batch at a time: scans wait for one batch at most
                progress(done)

            try:
                result = issue_all(
                    session, run, actor=actor, now=now, reason=reason, after_batch=after_batch
                )
            except IssuingError as exc:
                earlier = translate(
                    N_("%(count)d pass(es) were issued before the error and stay issued."),
                    count=run.result.issued,
                )
                raise click.ClickException(
                    f"{translate(exc.message_id, **exc.params)} {earlier}"
                ) from None
    if reissue:
        click.echo(
            translate(
                N_("%(count)d pass(es) re-issued; older cards no longer work."),
                count=result.reissued,
            )
        )
    else:
        click.echo(translate(N_("%(count)d pass(es) issued."), count=result.issued))
    if result.already_valid:
        click.echo(
            translate(
                N_(
                    "%(count)d household(s) already hold a valid pass and were skipped "
                    "(--force issues anyway, --reissue replaces their cards)."
                ),
                count=result.already_valid,
            )
        )


@passes_group.command(
    "reissue",
    help=(
        "Issue a household a new pass and kill every earlier one (lost or stolen card):\n"
        "the generation goes up, so old cards and screenshots are refused as superseded.\n\n"
        'Example: checkpoint passes reissue --household 3-2-401 --reason "卡丢失"'
    ),
)
@click.option("--household", "code", required=True, metavar="CODE")
@click.option("--reason", help="Why, for the audit log.")
@click.option("--valid-days", type=click.IntRange(1, 400), default=30, show_default=True)
@community_option
@actor_option
def reissue_command(
    code: str, reason: str | None, valid_days: int, community_code: str | None, actor: str
) -> None:
    """Re-issue a household's pass."""
    from gate.issuing.operations import IssuingError, issue_pass

    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        household = _households(session, community, codes=(code,))[0]
        try:
            issued = issue_pass(
                session,
                household,
                actor=actor,
                now=_now(),
                valid_days=valid_days,
                reissue=True,
                reason=reason,
            )
        except IssuingError as exc:
            raise _refused(exc, household.code) from None
        click.echo(
            translate(
                N_(
                    "%(household)s: generation %(generation)d, manual code %(code)s; earlier "
                    "cards are now refused."
                ),
                household=household.code,
                generation=issued.record.generation,
                code=issued.record.manual_code or "",
            )
        )


@passes_group.command(
    "revoke",
    help=(
        "Revoke a pass: it is refused as revoked from now on. Give the household (all its\n"
        "active passes) or one card's manual code.\n\n"
        'Example: checkpoint passes revoke --household 3-2-401 --reason "搬离小区"'
    ),
)
@click.option("--household", "code", metavar="CODE", help="Revoke all of its active passes.")
@click.option("--manual-code", metavar="CODE", help="The code printed under the QR.")
@click.option("--reason", required=True, help="Why, for the audit log.")
@community_option
@actor_option
def revoke_command(
    code: str | None,
    manual_code: str | None,
    reason: str,
    community_code: str | None,
    actor: str,
) -> None:
    """Revoke passes."""
    from gate.issuing.operations import IssuingError, revoke_pass
    from gate.issuing.queries import active_passes

    if (code is None) == (manual_code is None):
        raise click.UsageError(translate(N_("Give exactly one of --household or --manual-code.")))
    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        if code is not None:
            household = _households(session, community, codes=(code,))[0]
            records = active_passes(session, community.id, household_id=household.id)
        else:
            records = active_passes(session, community.id, manual_code=manual_code or "")
        if not records:
            raise click.ClickException(
                translate(N_("No active pass matches: nothing was revoked."))
            )
        try:
            for record in records:
                revoke_pass(session, record, actor=actor, reason=reason, now=_now())
        except IssuingError as exc:
            raise _refused(exc) from None
        for record in records:
            click.echo(translate(N_("Pass %(code)s revoked."), code=record.manual_code or ""))


@passes_group.command(
    "print",
    help=(
        "Print the current passes as A4 sheets of cut-out cards (8 per page, PDF).\n"
        "Households without a valid pass are listed and left out (issue them first).\n\n"
        "Example: checkpoint passes print --building 3 --out building-3.pdf"
    ),
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--building", metavar="B", help="Only this building (code or name).")
@click.option("--grid", metavar="G", help="Only this grid (code or name).")
@community_option
@actor_option
def print_command(
    out_path: Path, building: str | None, grid: str | None, community_code: str | None, actor: str
) -> None:
    """Print card sheets."""
    from gate.issuing.operations import IssuingError
    from gate.issuing.output import prepare_sheets, print_sheets

    if building is not None and grid is not None:
        raise click.UsageError(translate(N_("Give --building or --grid, not both.")))
    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        households = _households(job.session, community, building=building, grid=grid)
        try:
            run = prepare_sheets(job.session, community, households, now=_now())
        except IssuingError as exc:
            raise _refused(exc) from None
        # Everything the cards need is read: end the transaction so that rendering (long)
        # holds no lock; recording the event begins a short one, committed with the job.
        job.unit.commit()
        progress = RunningCount()
        with progress_bar(len(run.passes), "打印") as progress.advance:
            pages = _write_atomically(
                out_path,
                lambda out: print_sheets(
                    job.session,
                    run,
                    out,
                    actor=actor,
                    subject=out_path.name,
                    details={"building": building, "grid": grid},
                    on_progress=progress,
                ),
            )
    missing = run.without_pass
    click.echo(
        translate(
            N_("%(cards)d card(s) on %(pages)d page(s) written to %(path)s."),
            cards=len(run.passes),
            pages=pages,
            path=str(out_path),
        )
    )
    if missing:
        click.echo(
            translate(
                N_("%(count)d household(s) have no valid pass (issue them first): %(codes)s"),
                count=len(missing),
                codes=", ".join(missing[:20]) + (" …" if len(missing) > 20 else ""),
            )
        )


@passes_group.command(
    "card",
    help=(
        "Write one household's current card as a PNG (300 dpi), e.g. to send to a phone.\n\n"
        "Example: checkpoint passes card --household 3-2-401 --out 3-2-401.png"
    ),
)
@click.option("--household", "code", required=True, metavar="CODE")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@community_option
@actor_option
def card_command(code: str, out_path: Path, community_code: str | None, actor: str) -> None:
    """Write one card."""
    from gate.issuing.cards import usable_passes
    from gate.issuing.operations import IssuingError
    from gate.issuing.output import card_png

    with office_job(writes=True) as job:
        session = job.session
        community = pick_community(session, community_code)
        household = _households(session, community, codes=(code,))[0]
        record = usable_passes(session, [household], _now()).get(household.id)
        if record is None:
            raise click.ClickException(
                translate(
                    N_(
                        "%(household)s has no valid pass: issue one first "
                        "(checkpoint passes issue --household CODE)."
                    ),
                    household=household.code,
                )
            )
        try:
            png = card_png(
                session, community, household, record, actor=actor, file_name=out_path.name
            )
        except IssuingError as exc:
            raise _refused(exc, household.code) from None
        # Written before the job commits: a file that cannot be written leaves no event.
        _write_atomically(out_path, lambda out: out.write(png))
    click.echo(
        translate(
            N_("Card of %(household)s written to %(path)s."),
            household=household.code,
            path=str(out_path),
        )
    )


def _households(
    session: DbSession,
    community: Community,
    *,
    codes: Sequence[str] = (),
    building: str | None = None,
    grid: str | None = None,
) -> list[Household]:
    from gate.households.operations import HouseholdError, select_households

    try:
        return select_households(session, community, codes=codes, building=building, grid=grid)
    except HouseholdError as exc:
        raise click.ClickException(translate(exc.message_id, **exc.params)) from None


def _write_atomically(path: Path, write: Callable[[BinaryIO], int]) -> int:
    """Write via a temporary file beside ``path``: a failed run leaves no half-written file."""
    partial = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as out:
            result = write(out)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return result
