"""Issuing (or re-issuing) the passes of many households at once: a building, a grid, all.

The work is split in batches so that an entry point can commit after each one: on SQLite a
write transaction blocks every scan, so 5,000 passes must not be one transaction. A batch
issues one pass per household with :func:`~gate.issuing.operations.issue_pass` (each one
audited as ``pass.issue`` or ``pass.reissue``), signing with the key read once per run.

What a run does per household:

- issue (``reissue=False``): a household that already holds a valid pass of its current
  generation is left alone and counted in ``already_valid``; the others get a pass.
- re-issue (``reissue=True``): every household gets a new pass of a new generation; its
  earlier cards are refused as ``superseded`` from then on.

Quarantined households are issued like any other: a card is what lets them back in, and the
gate refuses their exits while the quarantine lasts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from gate.households.models import Household
from gate.issuing.cards import usable_passes
from gate.issuing.operations import (
    DEFAULT_VALID_DAYS,
    IssuingError,
    issue_pass,
    supersede_passes,
)
from gate.signing.operations import SigningKeyUnavailable, active_signing_key
from passes import SigningKey

BATCH_SIZE = 250
"""Households per batch: a batch's transaction stays well under a second."""


@dataclass
class BulkResult:
    """What a run did: ``issued`` new passes (``reissued`` of them replaced older cards),
    ``already_valid`` households left alone, and ``total`` households selected."""

    total: int
    issued: int = 0
    reissued: int = 0
    already_valid: int = 0
    household_codes: list[str] = field(default_factory=list)
    """The households that got a pass, in address order."""


@dataclass(frozen=True)
class BulkRun:
    """A planned run: the households still to do, and the key to sign with."""

    todo: list[Household]
    result: BulkResult
    key: SigningKey
    reissue: bool
    valid_days: int

    def batches(self, size: int = BATCH_SIZE) -> Iterator[list[Household]]:
        """The households to do, ``size`` at a time."""
        for start in range(0, len(self.todo), size):
            yield self.todo[start : start + size]


def plan_bulk_issue(
    session: Session,
    community_id: int,
    households: Sequence[Household],
    *,
    now: datetime,
    reissue: bool = False,
    valid_days: int = DEFAULT_VALID_DAYS,
    force: bool = False,
) -> BulkRun:
    """Decide which of ``households`` get a pass, and read the community's signing key.

    ``force`` (issue only): also households that hold a valid pass (an additional pass; the
    earlier cards stay valid). Raises :class:`IssuingError` when the community cannot sign.
    """
    try:
        key = active_signing_key(session, community_id)
    except SigningKeyUnavailable as exc:
        raise IssuingError.from_key_error(exc) from None
    holding = {} if reissue or force else usable_passes(session, households, now)
    todo = [h for h in households if h.id not in holding]
    result = BulkResult(total=len(households), already_valid=len(holding))
    return BulkRun(todo, result, key, reissue, valid_days)


def issue_batch(
    session: Session,
    run: BulkRun,
    batch: Sequence[Household],
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Issue (or re-issue) the passes of ``batch`` (a slice of ``run.todo``) and count them
    in ``run.result``. Flushes; the caller commits. Raises :class:`IssuingError` (e.g. a
    validity out of range) before anything of the batch is counted."""
    if run.reissue:
        supersede_passes(session, batch)  # one UPDATE for the batch's older passes
    for household in batch:
        issue_pass(
            session,
            household,
            actor=actor,
            now=now,
            valid_days=run.valid_days,
            reissue=run.reissue,
            key=run.key,
            reason=reason,
            flush=False,
            supersede=False,
        )
    session.flush()  # one multi-row INSERT per table for the whole batch
    run.result.issued += len(batch)
    if run.reissue:
        run.result.reissued += len(batch)
    run.result.household_codes.extend(h.code for h in batch)


def issue_all(
    session: Session,
    run: BulkRun,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> BulkResult:
    """Every batch of ``run`` in turn; ``after_batch(done_so_far)`` runs after each one (an
    entry point commits there and advances its progress). Returns ``run.result``."""
    for batch in run.batches():
        issue_batch(session, run, batch, actor=actor, now=now, reason=reason)
        if after_batch is not None:
            after_batch(run.result.issued)
    return run.result
