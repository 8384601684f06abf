"""``checkpoint households``: import the register from a spreadsheet, the template, status changes.

Each command is one job with one unit of work (``office_job``: one commit when it
succeeds); the work is done by ``gate.households.importing`` and
``gate.households.operations``, which raise codes that this module words in Chinese first.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from gate.cli.support import (
    RunningCount,
    actor_option,
    community_option,
    office_job,
    pick_community,
    progress_bar,
    translate,
)

if TYPE_CHECKING:
    from gate.households.importing import ImportResult
    from gate.households.operations import HouseholdError
    from gate.households.spreadsheet import SheetError, SheetWarning
    from gate.households.validation import RowError

_LANGS = click.Choice(["zh", "en"])


@click.group(
    name="households",
    help=(
        "The household register: import from Excel/CSV, the blank template, quarantine.\n\n"
        "Example: checkpoint households import 住户登记.xlsx --dry-run"
    ),
)
def households_group() -> None:
    """Household commands."""


def _message(problem: RowError | SheetError | SheetWarning, *, zh: bool) -> str:
    """An import error or warning in Chinese (the UI catalogue), or its English message id."""
    if zh:
        return translate(problem.message_id, **problem.params)
    return problem.message_id % problem.params if problem.params else problem.message_id


def _row_line(error: RowError, *, zh: bool) -> str:
    """``第 3 行 联系电话：...`` (``Row 3 phone: ...``): one line per problem, by row."""
    from gate.households.spreadsheet import COLUMNS

    if zh:
        header = next((c.header_zh for c in COLUMNS if c.key == error.field), error.field)
        return f"第 {error.row} 行 {header}：{_message(error, zh=True)}"
    return f"Row {error.row} {error.field}: {_message(error, zh=False)}"


def _lang_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--lang", type=_LANGS, default="zh", show_default=True, help="Language of messages."
    )(command)


@households_group.command(
    "template",
    help=(
        "Write the blank import template (.xlsx) with example rows and instructions.\n\n"
        "Example: checkpoint households template 住户导入模板.xlsx"
    ),
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def template_command(path: Path) -> None:
    """Write the template."""
    from gate.households.template import write_template

    if path.suffix.lower() != ".xlsx":
        raise click.ClickException("the template is an Excel file: give a name ending in .xlsx")
    write_template(path)
    click.echo(f"模板已写入 {path}（template written）")


@households_group.command(
    "import",
    help=(
        "Import households from an .xlsx or .csv file (UTF-8 or GBK). One row per person:\n"
        "the head of household (与户主关系 户主 or empty) and each member with the same\n"
        "户编号. Every row is checked first; if any row is bad, every problem is listed by\n"
        "row number and nothing is imported (exit status 1), unless --skip-bad, which\n"
        "imports the good rows. --bad-rows writes the bad rows with a 错误原因 column to fix\n"
        "and import again. Building, unit and room spellings (7号楼, 七栋, 7) are one name;\n"
        "re-importing a file only applies what changed. Areas, grids, compounds and\n"
        "buildings named in the file are created when missing. Status columns apply to new\n"
        "households only; use `households quarantine` etc. for existing ones.\n\n"
        "Example: checkpoint households import 住户登记.xlsx --skip-bad --bad-rows 错误行.xlsx\n"
        "Example: checkpoint households import 住户登记.xlsx --dry-run"
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows even if some are bad.")
@click.option(
    "--bad-rows",
    "bad_rows_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the bad rows (same columns + 错误原因) to this .xlsx file.",
)
@_lang_option
@community_option
@actor_option
def import_command(
    path: Path,
    dry_run: bool,
    skip_bad: bool,
    bad_rows_path: Path | None,
    lang: str,
    community_code: str | None,
    actor: str,
) -> None:
    """Import a household sheet."""
    from gate.households.id_numbers import id_hash_key
    from gate.households.importing import apply_import, plan_import
    from gate.households.spreadsheet import SheetError, read_rows
    from gate.households.validation import validate_rows
    from gate.vehicles.registry import plate_importer

    zh = lang == "zh"
    # Parse and validate before touching the database: the write lock is held only to write.
    with office_job(writes=False) as job:
        timezone = pick_community(job.session, community_code).timezone
    today = dt.datetime.now(ZoneInfo(timezone)).date()
    reading = RunningCount()
    try:
        with read_rows(path, path.name, on_progress=reading) as rows:
            total = rows.estimated_rows or _count_lines(path)
            with progress_bar(total, "检查" if zh else "checking") as reading.advance:
                plan = validate_rows(rows, today=today)
    except SheetError as exc:
        raise click.ClickException(_message(exc, zh=zh)) from None
    for warning in plan.warnings:
        click.echo(("提示：" if zh else "note: ") + _message(warning, zh=zh))
    with office_job(writes=not dry_run) as job:
        community = pick_community(job.session, community_code)
        id_key = id_hash_key(job.settings.keys_dir)
        if dry_run:
            result = plan_import(job.session, community, plan, id_key=id_key)
        else:
            writing = RunningCount()
            with progress_bar(len(plan.valid), "导入" if zh else "importing") as writing.advance:
                result = apply_import(
                    job.session,
                    community,
                    plan,
                    id_key=id_key,
                    actor=actor,
                    skip_bad=skip_bad,
                    source=path.name,
                    on_progress=writing,
                    on_plates=plate_importer(actor=actor, now=_utcnow()),
                )
    for error in result.errors:
        click.echo(_row_line(error, zh=zh))
    _summary(result, rows=plan.rows_seen, dry_run=dry_run, zh=zh)
    if bad_rows_path is not None and result.errors:
        _write_bad_rows(path, bad_rows_path, result, zh=zh)
    if result.errors and not skip_bad:
        sys.exit(1)


def _write_bad_rows(source: Path, target: Path, result: ImportResult, *, zh: bool) -> None:
    from gate.households.bad_rows import bad_rows_workbook
    from gate.households.spreadsheet import COLUMNS

    headers = {c.key: c.header_zh for c in COLUMNS}
    if target.suffix.lower() != ".xlsx":
        target = target.with_suffix(".xlsx")
    target.write_bytes(
        bad_rows_workbook(
            source,
            source.name,
            result.errors,
            describe=lambda error: _message(error, zh=zh),
            column_name=lambda key: headers.get(key, key) if zh else key,
        )
    )
    count = len(result.bad_rows)
    click.echo(
        f"有错误的 {count} 行已写入 {target}，改正后可再导入这个文件"
        if zh
        else f"{count} bad rows written to {target}; fix them and import that file"
    )


def _summary(result: ImportResult, *, rows: int, dry_run: bool, zh: bool) -> None:
    bad = len(result.bad_rows)
    if zh:
        head = "试导入（未写入）" if dry_run else ("已导入" if result.written else "未导入任何数据")
        click.echo(
            f"{head}：共 {rows} 行，新增 {result.created} 户，更新 {result.updated} 户，"
            f"未变 {result.unchanged} 户，有错误 {bad} 行"
        )
        if result.errors and not result.written and not dry_run:
            click.echo("请改正以上各行后重新导入，或使用 --skip-bad 只导入正确的行。")
        if result.errors and result.written:
            click.echo(f"有错误的 {bad} 行已跳过，未导入。")
        if result.new_places:
            click.echo("新建：" + "、".join(result.new_places))
        if result.status_not_applied:
            click.echo(
                f"{len(result.status_not_applied)} 户的状态与文件不同，未按文件修改"
                "（请用 households quarantine/exempt/normal 命令并填写原因）"
            )
        return
    head = "Imported" if result.written else "Nothing imported"
    if dry_run:
        head = "Dry run (nothing written)"
    click.echo(
        f"{head}: {rows} rows, {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {bad} rows with errors"
    )
    if result.errors and not result.written and not dry_run:
        click.echo("Fix the rows above and import again, or use --skip-bad for the good rows.")
    if result.new_places:
        click.echo("Created: " + ", ".join(result.new_places))
    if result.status_not_applied:
        click.echo(
            f"{len(result.status_not_applied)} households have a different status in the file; "
            "not changed (use households quarantine/exempt/normal with a reason)"
        )


def _count_lines(path: Path) -> int:
    """A row estimate for a CSV (its line count), for the progress bar."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@households_group.command(
    "rehash-ids",
    help=(
        "Recompute the ID-number search hashes under the ID-hash key (keys/id_hash.key,\n"
        "created if missing). Idempotent; `checkpoint db upgrade` runs it too.\n\n"
        "Example: checkpoint households rehash-ids"
    ),
)
def rehash_ids_command() -> None:
    """Re-hash stored ID numbers."""
    from gate.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    rehash_id_numbers_of(settings.database_url, settings.keys_dir)


def rehash_id_numbers_of(database_url: str, keys_dir: Path) -> None:
    """Re-hash the stored ID numbers and say how many changed (also run by ``db upgrade``)."""
    from gate.households.id_numbers import rehash_database

    changed = rehash_database(database_url, keys_dir)
    click.echo(f"身份证号检索哈希：已更新 {changed} 条（ID-number hashes updated: {changed}）")


# --- status -------------------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse_until(_ctx: click.Context, _param: click.Parameter, value: str) -> dt.date:
    from gate.households.validation import parse_date

    parsed = parse_date(value)
    if parsed is None:
        raise click.BadParameter(f"{value!r} is not a date; write it like 2026-11-30")
    return parsed


def household_error_text(exc: HouseholdError) -> str:
    """A household operation's refusal for the terminal, in Chinese (the UI catalogue)."""
    return translate(exc.message_id, **exc.params)


def _status_job(code: str, community_code: str | None, action: str, **kwargs: object) -> None:
    from gate.households.operations import HouseholdError, change_status, find_household

    with office_job(writes=True) as job:
        community = pick_community(job.session, community_code)
        try:
            household = find_household(job.session, community, code)
            change_status(job.session, household, action, **kwargs)  # type: ignore[arg-type]
        except HouseholdError as exc:
            raise click.ClickException(household_error_text(exc)) from None
        click.echo(f"{household.code}: {household.status.value}")


@households_group.command(
    "quarantine",
    help=(
        "Put a household in home quarantine through a local date: exits are refused until\n"
        "the midnight after it (entries stay allowed); it ends by itself.\n\n"
        'Example: checkpoint households quarantine 3-2-401 --until 2026-11-30 --reason "密接"'
    ),
)
@click.argument("code")
@click.option(
    "--until", required=True, callback=_parse_until, help="Last day of quarantine (inclusive)."
)
@click.option("--reason", required=True, help="Why, for the audit log.")
@community_option
@actor_option
def quarantine_command(
    code: str, until: dt.date, reason: str, community_code: str | None, actor: str
) -> None:
    """Quarantine a household."""
    _status_job(
        code,
        community_code,
        "quarantine",
        until=until,
        actor=actor,
        reason=reason,
        now=_utcnow(),
    )
    click.echo(f"隔离至 {until.isoformat()}（含当日）")


@households_group.command(
    "exempt",
    help=(
        "Mark a household exempt from the outing quota (essential work); lifts quarantine.\n\n"
        'Example: checkpoint households exempt 3-2-401 --reason "保供人员"'
    ),
)
@click.argument("code")
@click.option("--reason", required=True, help="Why, for the audit log.")
@community_option
@actor_option
def exempt_command(code: str, reason: str, community_code: str | None, actor: str) -> None:
    """Exempt a household."""
    _status_job(
        code, community_code, "exempt", until=None, actor=actor, reason=reason, now=_utcnow()
    )


@households_group.command(
    "normal",
    help=(
        "Return a household to the normal rules (ends quarantine or exemption now).\n\n"
        'Example: checkpoint households normal 3-2-401 --reason "隔离期满，核酸阴性"'
    ),
)
@click.argument("code")
@click.option("--reason", required=True, help="Why, for the audit log.")
@community_option
@actor_option
def normal_command(code: str, reason: str, community_code: str | None, actor: str) -> None:
    """Set a household back to normal."""
    _status_job(
        code, community_code, "normal", until=None, actor=actor, reason=reason, now=_utcnow()
    )
