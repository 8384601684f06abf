"""An import confirmed on the console runs as a background job whose progress the page polls.

The job runs in a thread of the web process with its own unit of work (one commit when it
succeeds, like a CLI job). Its progress lives in a small JSON file beside the stored upload
(``<instance>/imports/job-<community>-<token>.json``, written atomically), so any worker
process can answer the page's poll. The file carries counts and the new places only, never
personal data; it expires with the upload (the store's hourly sweep deletes both).

States: ``checking`` (reading and validating the sheet: ``done`` rows of about ``total``),
``importing`` (``done`` of ``total`` households written), ``done`` (the counts), ``failed``
(nothing written; ``failure`` is a stable code: ``sheet`` for a sheet that no longer reads,
``error`` for anything else, which is logged).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from gate.community.models import Community
from gate.households.importing import ImportResult, PlateHook, apply_import
from gate.households.spreadsheet import SheetError, read_rows
from gate.households.validation import validate_rows
from gate.settings import PRIVATE_FILE_MODE
from gate.unit_of_work import UnitOfWork

__all__ = ["JobProgress", "Report", "import_file_work", "read_job", "start_job"]

_log = logging.getLogger(__name__)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")

State = Literal["checking", "importing", "done", "failed"]
Report = Callable[[State, int, int], None]
"""``report(state, done, total)``: what the job is doing now."""


@dataclass
class JobProgress:
    """What a job has done so far (the JSON the page polls)."""

    state: State
    done: int = 0
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    new_places: list[str] = field(default_factory=list)
    failure: str | None = None
    source: str = ""  # the uploaded file's name

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


def _path(directory: Path, community_id: int, token: str) -> Path:
    return directory / f"job-{community_id}-{token}.json"


def _write(path: Path, progress: JobProgress) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(progress), handle, ensure_ascii=False)
    os.replace(temporary, path)


def read_job(directory: Path, community_id: int, token: str) -> JobProgress | None:
    """The progress of ``community_id``'s job ``token``, or None (none started, expired)."""
    if not _TOKEN.match(token):
        return None
    try:
        data = json.loads(_path(directory, community_id, token).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return JobProgress(**data)


def start_job(
    directory: Path,
    community_id: int,
    token: str,
    work: Callable[[Report], ImportResult],
    *,
    source: str = "",
) -> bool:
    """Start ``work(report)`` in a thread unless a job for ``token`` exists; True if started.

    ``work`` opens its own unit of work; the result's counts end up in the progress file.
    """
    path = _path(directory, community_id, token)
    try:  # claim the token: a second confirmation of the same upload starts nothing
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(JobProgress("checking", source=source)), handle, ensure_ascii=False)
    thread = threading.Thread(
        target=_run, args=(path, work, source), name=f"import-{token[:8]}", daemon=True
    )
    thread.start()
    return True


def _run(path: Path, work: Callable[[Report], ImportResult], source: str) -> None:
    def report(state: State, done: int, total: int) -> None:
        _write(path, JobProgress(state, done, max(total, done), source=source))

    try:
        result = work(report)
    except SheetError:
        _write(path, JobProgress("failed", failure="sheet", source=source))
        return
    except Exception:  # a thread has no caller to raise to: log it, tell the page
        _log.exception("household import job failed")
        _write(path, JobProgress("failed", failure="error", source=source))
        return
    _write(
        path,
        JobProgress(
            "done" if result.written else "failed",
            done=result.created + result.updated + result.unchanged,
            total=result.created + result.updated + result.unchanged,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            skipped=result.skipped,
            new_places=result.new_places,
            failure=None if result.written else "rows",
            source=source,
        ),
    )


def import_file_work(
    sessions: sessionmaker[Session],
    community_id: int,
    path: Path,
    *,
    today: dt.date,
    id_key: bytes,
    actor: str,
    skip_bad: bool,
    source: str,
    on_plates: PlateHook | None = None,
) -> Callable[[Report], ImportResult]:
    """The job of importing the stored sheet ``path``: read and check it, then import it in
    one unit of work of its own (committed when it succeeds), reporting as it goes."""

    def work(report: Report) -> ImportResult:
        estimate = 0

        def reading(rows_read: int) -> None:
            report("checking", rows_read, estimate)

        with read_rows(path, path.name, on_progress=reading) as rows:
            estimate = rows.estimated_rows or 0
            plan = validate_rows(rows, today=today)
        total = len(plan.valid)
        report("importing", 0, total)
        with UnitOfWork(sessions, writes=True) as unit:
            community = unit.session.get(Community, community_id)
            if community is None:
                raise LookupError(f"community {community_id} is gone")
            return apply_import(
                unit.session,
                community,
                plan,
                id_key=id_key,
                actor=actor,
                skip_bad=skip_bad,
                source=source,
                on_progress=lambda done: report("importing", done, total),
                on_plates=on_plates,
            )

    return work
