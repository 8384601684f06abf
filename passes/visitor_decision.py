"""Decisions for people without a household pass: a visitor pass shown, or a walk-in.

Pure, like :func:`passes.decide`, and answering with the same :class:`passes.Verdict` (no
household, no state), so screens, the wire and the log treat every verdict alike.

Visitor pass, order of evaluation (documented contract):

1. Authenticity (:func:`passes.visitor_pass.verify_visitor_pass`): ``bad_format``,
   ``unknown_key``, ``bad_signature``, ``key_revoked``, ``key_not_valid``,
   ``wrong_community``. The first failure stops evaluation, in either direction.
2. Entries only: ``visitor_pass_revoked`` (in the issuer's list),
   ``visitor_pass_not_yet_valid`` (before ``valid_from``), ``visitor_pass_expired`` (after
   ``valid_until``), ``visitor_pass_used`` (single use, already consumed). The first failure
   stops evaluation. An exit is never refused for these: a visitor inside must be able to
   leave after the window closed or the pass was used.
3. Health (:func:`passes.decision.health_codes`), both directions: ``sensor_error``,
   ``no_temperature``, ``fever``, the same temperature rules as for residents.

An allowed entry carries the note ``visitor``; the caller consumes a single-use pass then.

Walk-ins (无证人员) are always refused: ``no_pass`` (turned back, 劝返) or ``handed_over`` (a
delivery handed over at the gate, nobody entered); a temperature, when one was taken, adds
its health codes after the primary code.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime

from passes.codes import Code
from passes.decision import Verdict, health_codes
from passes.keys import KeySet
from passes.rules import RuleSet
from passes.state import Direction
from passes.visitor_pass import (
    VerifiedVisitorPass,
    VisitorPassCheck,
    VisitorPassRejected,
    verify_visitor_pass,
)


def decide_visitor(
    presented: str | VisitorPassCheck,
    *,
    keys: KeySet,
    community_id: int,
    used_pass_ids: Container[bytes],
    revoked_pass_ids: Container[bytes],
    rules: RuleSet,
    direction: Direction,
    temperature: object,
    now: datetime,
) -> Verdict:
    """Decide one crossing with a visitor pass. Pure: everything comes in as arguments.

    ``presented``: the scanned text, or an earlier :func:`verify_visitor_pass` result.
    ``used_pass_ids``: single-use visitor passes already consumed (the bundle's list offline,
    the server's record online); ``revoked_pass_ids`` likewise. ``temperature``: integer
    tenths or None; anything else is a sensor error.
    """
    check = (
        verify_visitor_pass(presented, keys, community_id=community_id)
        if isinstance(presented, str)
        else presented
    )
    tenths = _tenths(temperature)
    fields = check.fields
    pass_id = fields.pass_id if fields is not None else None
    code = _validity_code(check, direction, used_pass_ids, revoked_pass_ids, now)
    codes = [code] if code is not None else health_codes(temperature, rules)
    allowed = not codes
    return Verdict(
        allowed=allowed,
        direction=direction,
        code=codes[0] if codes else None,
        codes=tuple(codes),
        notes=(Code.VISITOR,) if allowed and direction is Direction.IN else (),
        rule_version=rules.version,
        next_exit_at=None,
        household_id=None,
        pass_id=pass_id,
        temperature_tenths=tenths,
        state_after=None,
        override=None,
        timezone=rules.timezone,
    )


def consumes(verdict: Verdict, check: VisitorPassCheck) -> bool:
    """Whether recording ``verdict`` uses up the visitor pass: an allowed entry with a
    single-use pass."""
    return (
        verdict.allowed
        and verdict.direction is Direction.IN
        and isinstance(check, VerifiedVisitorPass)
        and check.fields.single_use
    )


def decide_walk_in(
    *, handed_over: bool, rules: RuleSet, direction: Direction, temperature: object
) -> Verdict:
    """The verdict for a person without a pass registered at the gate: refused, ``no_pass``
    (turned back) or ``handed_over`` (a delivery left at the gate); health codes follow
    when a temperature was taken (None: not taken, nothing added)."""
    primary = Code.HANDED_OVER if handed_over else Code.NO_PASS
    health = [] if temperature is None else health_codes(temperature, rules)
    return Verdict(
        allowed=False,
        direction=direction,
        code=primary,
        codes=(primary, *health),
        notes=(),
        rule_version=rules.version,
        next_exit_at=None,
        household_id=None,
        pass_id=None,
        temperature_tenths=_tenths(temperature),
        state_after=None,
        override=None,
        timezone=rules.timezone,
    )


def _validity_code(
    check: VisitorPassCheck,
    direction: Direction,
    used: Container[bytes],
    revoked: Container[bytes],
    now: datetime,
) -> Code | None:
    if isinstance(check, VisitorPassRejected):
        return check.code
    if direction is Direction.OUT:
        return None
    fields = check.fields
    if fields.pass_id in revoked:
        return Code.VISITOR_PASS_REVOKED
    if now < fields.valid_from:
        return Code.VISITOR_PASS_NOT_YET_VALID
    if now > fields.valid_until:
        return Code.VISITOR_PASS_EXPIRED
    if fields.single_use and fields.pass_id in used:
        return Code.VISITOR_PASS_USED
    return None


def _tenths(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
