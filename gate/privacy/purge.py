"""The purge: delete what is due while the log stays verifiable.

Order of work, in one unit of work (the caller commits once):

1. Verify the community's log and sign a checkpoint of every gate's head (a broken log stops
   the purge: nothing is deleted that could no longer be proved intact).
2. Per gate, delete a *prefix* of the chain (``gate_seq <= cut``) and store the cut row's
   hash as the gate's :class:`ChainBase`, with the checkpoint; verification then starts
   from there ("verified from the checkpoint of <date>"). A prefix keeps the rest of the chain
   walkable: with ``--before`` the cut is the row before the first one scanned at or after
   that time (late offline uploads of older scans are kept until the next purge).
3. On the full purge (due ``retention_days`` after the lockdown ended) every crossing goes,
   and every household of the community with every row that refers to it (members, passes,
   status history, and any table another feature adds with a key to ``households``).
4. Audit event ``privacy.purge`` with the counts (never the data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.crossings.models import Crossing
from gate.crossings.quarter_counts import subtract_deleted
from gate.db import Base
from gate.households.models import Household
from gate.households.uploads import IMPORT_DIR
from gate.privacy.retention import PrivacyError, purge_due_at, retention_of
from gate.verification.checkpoints import LogNotIntact, record_checkpoint, write_checkpoint
from gate.verification.models import ChainBase
from passes import SigningKey


@dataclass(frozen=True)
class PurgeResult:
    """Rows deleted per table, the checkpoint that closed the log, and whether it was full."""

    full: bool
    deleted: dict[str, int] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)

    @property
    def crossings(self) -> int:
        return self.deleted.get("crossings", 0)

    @property
    def households(self) -> int:
        return self.deleted.get("households", 0)


def purge(
    session: Session,
    community_id: int,
    key: SigningKey | None,
    *,
    now: datetime,
    actor: str,
    before: datetime | None = None,
) -> PurgeResult:
    """Purge the community's data that is due. Flushes, never commits.

    Without ``before``: the full purge, allowed only once ``retention_days`` have passed since
    the lockdown ended (else ``not_due``). With ``before``: only crossings scanned before it
    (a rolling purge while the lockdown lasts; households stay). Raises :class:`PrivacyError`
    (``not_due``, ``no_key``, ``log_broken``).
    """
    retention = retention_of(session, community_id)
    full = before is None
    if full:
        due = purge_due_at(retention)
        if due is None or due > now:
            raise PrivacyError("not_due")
    if key is None:
        raise PrivacyError("no_key")
    try:
        document = write_checkpoint(session, key, now, community_id=community_id)
    except LogNotIntact as exc:
        raise PrivacyError("log_broken") from exc
    record_checkpoint(session, document, file_name="privacy-purge", actor=actor)
    text = json.dumps(document, ensure_ascii=False, sort_keys=True)
    deleted: dict[str, int] = {"crossings": 0}
    for item in document["gates"]:
        head = int(item["gate_seq"])
        cut = head if before is None else _prefix_end(session, item["gate_id"], before, head)
        deleted["crossings"] += _cut_chain(session, item["gate_id"], cut, now, text)
    if full:
        _purge_households(session, community_id, deleted)
    retention.last_purge_at = now
    session.add(retention)
    record_event(
        session,
        actor=actor,
        action="privacy.purge",
        community_id=community_id,
        subject_type="community",
        subject_id=community_id,
        details={
            "full": full,
            "before": None if before is None else before.isoformat(),
            "deleted": deleted,
            "checkpoint_at": document["created_at"],
        },
    )
    session.flush()
    return PurgeResult(full, deleted, document)


def _prefix_end(session: Session, gate_id: int, before: datetime, head: int) -> int:
    """The last ``gate_seq`` of the longest prefix whose rows were all scanned before ``before``."""
    first_kept = session.scalar(
        select(Crossing.gate_seq)
        .where(Crossing.gate_id == gate_id, Crossing.scanned_at >= before)
        .order_by(Crossing.gate_seq)
        .limit(1)
    )
    return head if first_kept is None else min(head, int(first_kept) - 1)


def _cut_chain(session: Session, gate_id: int, cut: int, now: datetime, checkpoint: str) -> int:
    """Delete the gate's rows up to ``cut`` and move its chain base there; rows deleted."""
    base = session.get(ChainBase, gate_id)
    if cut <= (0 if base is None else base.base_seq):
        return 0
    cut_hash = session.scalar(
        select(Crossing.row_hash).where(Crossing.gate_id == gate_id, Crossing.gate_seq == cut)
    )
    if cut_hash is None:  # the checkpoint just verified this row: it cannot be missing
        raise PrivacyError("log_broken")
    doomed = (Crossing.gate_id == gate_id) & (Crossing.gate_seq <= cut)
    subtract_deleted(session, doomed)  # the per-hour counts lose them in this transaction
    result = session.execute(delete(Crossing).where(doomed))
    if base is None:
        base = ChainBase(gate_id=gate_id)
        session.add(base)
    base.base_seq, base.base_hash = cut, cut_hash
    base.checkpoint_at, base.checkpoint_json = now, checkpoint
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def _purge_households(session: Session, community_id: int, deleted: dict[str, int]) -> None:
    """Delete the community's households and, first, every row that refers to one.

    Households still named by a crossing (one uploaded after the checkpoint) are kept: the
    chain row cannot go without breaking the log; the next purge takes them.
    """
    named = select(Crossing.household_id).where(Crossing.household_id.is_not(None))
    where = (Household.community_id == community_id) & Household.id.not_in(named)
    _delete_tree(session, Household.__table__, where, deleted)  # type: ignore[arg-type]


def _delete_tree(
    session: Session, table: Table, where: ColumnElement[bool], deleted: dict[str, int]
) -> None:
    """Delete ``table``'s rows matching ``where`` after the rows of every table that refers
    to them (depth first, through the declared foreign keys of the whole schema)."""
    for child in Base.metadata.sorted_tables:
        if child.name == "crossings":
            continue
        for key in child.foreign_keys:
            if key.column.table is table and child is not table:
                referred = select(key.column).where(where)
                _delete_tree(session, child, key.parent.in_(referred), deleted)
    result = session.execute(delete(table).where(where))
    count = int(getattr(result, "rowcount", 0) or 0)
    deleted[table.name] = deleted.get(table.name, 0) + count


def delete_import_uploads(instance_dir: Path, community_id: int) -> int:
    """Delete the community's household sheets still kept between an import's preview and
    its confirmation (they hold full names, phones and ID numbers; see
    :mod:`gate.households.uploads`), and their progress files. Returns the files deleted."""
    directory = instance_dir / IMPORT_DIR
    if not directory.is_dir():
        return 0
    deleted = 0
    for path in directory.glob(f"{community_id}-*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
