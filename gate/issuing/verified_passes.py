"""Verifying a printed pass once per server process: its Ed25519 signature is the costly part,
and a household's card is scanned many times a day (out and back in, every outing).

:func:`verify_known_pass` answers exactly what :func:`passes.verify_pass` answers for the same
text, keys, community and time. A text that verified before, under the very key entry that
is still the only one of its id (same public key, status and period), verifies again
exactly when the time is inside its validity, the only checks of ``verify_pass`` that
depend on the time; outside it, the same refusal ``verify_pass`` gives (not yet valid,
expired). Anything else (a first sight, a changed key entry, a refusal) goes through
``verify_pass`` itself; refusals are not remembered.

The memory is per process and bounded (:data:`REMEMBERED`, oldest forgotten first); threads
share it (each step is one dict operation under the GIL; a lost race only forgets one more).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from gate.community.context import CommunityContext
from passes import Code, PassCheck, PassRejected, VerifiedPass, verify_pass

REMEMBERED = 50_000
"""How many verified pass texts a process remembers: a compound's households' cards, with
room to spare. About 1 KiB each."""

_VERIFIED: dict[tuple[int, str], VerifiedPass] = {}


def verify_known_pass(context: CommunityContext, text: str, now: datetime) -> PassCheck:
    """``verify_pass(text, context.keys, community_id=context.community_id, now=now)``,
    without checking a signature this process checked before under the same key entry."""
    cached = _VERIFIED.get((context.community_id, text))
    if cached is not None and context.keys.candidates(cached.key.key_id) == (cached.key,):
        fields = cached.fields
        if now < fields.issued_at:
            return PassRejected(Code.NOT_YET_VALID, "not_yet_valid", fields)
        if now > fields.valid_until:
            return PassRejected(Code.EXPIRED, "expired", fields)
        return cached
    check = verify_pass(text, context.keys, community_id=context.community_id, now=now)
    if isinstance(check, VerifiedPass):
        _remember((context.community_id, text), check)
    return check


def remembered_household(community_id: int, text: str) -> int | None:
    """The household a pass text names when this process verified it before (its fields
    read again would say the same), else None."""
    cached = _VERIFIED.get((community_id, text))
    return None if cached is None else cached.fields.household_id


def _remember(key: tuple[int, str], check: VerifiedPass) -> None:
    if len(_VERIFIED) >= REMEMBERED:
        # Another thread may change the dict meanwhile: then one entry more or less is forgotten.
        with suppress(KeyError, RuntimeError, StopIteration):
            del _VERIFIED[next(iter(_VERIFIED))]  # the oldest
    _VERIFIED[key] = check
