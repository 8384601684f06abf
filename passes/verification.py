"""Pass validity: shape, signature, key, community, time, revocation, generation.

Order (the first failure is the verdict, and nothing after it runs):
``bad_format`` -> ``unknown_key`` -> ``bad_signature`` -> ``key_revoked`` ->
``key_not_valid`` -> ``wrong_community`` -> ``not_yet_valid`` -> ``expired``.
Revocation and generation need the household's record and are checked by
:func:`passes.decide` right after. No field of a pass is acted on before its
signature has been verified with the algorithm of the *key entry*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passes.codes import Code
from passes.errors import PassError
from passes.keys import KeyEntry, KeySet, KeyStatus
from passes.pass_format import Pass, SignedPass, parse_pass, signed_message


@dataclass(frozen=True)
class VerifiedPass:
    """A pass whose signature, key, community and validity period checked out."""

    fields: Pass
    key: KeyEntry


@dataclass(frozen=True)
class PassRejected:
    """A pass refused before anything about its household was looked at."""

    code: Code
    detail: str
    fields: Pass | None = None
    """The parsed fields, present only when the signature verified (never for forgeries)."""


PassCheck = VerifiedPass | PassRejected

MAX_PASS_VALIDITY = timedelta(days=400)
"""No pass is issued for longer (the office issues for days to months). A pass claiming more
was signed by a key that should not have signed it: one backdated before its key's
retirement with a far expiry is refused here, at every gate, online or not."""


def verify_pass(text: object, keys: KeySet, *, community_id: int, now: datetime) -> PassCheck:
    """Check a presented pass text; never raises for any input.

    A pass is valid from ``issued_at`` through ``valid_until`` inclusive. A pass
    under a retired key stays valid until its own expiry; under a revoked key it
    is refused.
    """
    try:
        signed = parse_pass(text)
    except PassError as exc:
        return PassRejected(exc.code, exc.detail)
    key = _signing_key(signed, keys)
    if isinstance(key, PassRejected):
        return key
    fields = signed.fields
    if key.status is KeyStatus.REVOKED:
        return PassRejected(Code.KEY_REVOKED, "key_revoked", fields)
    if not key.covers(fields.issued_at):
        return PassRejected(Code.KEY_NOT_VALID, "issued_outside_key_period", fields)
    if fields.valid_until - fields.issued_at > MAX_PASS_VALIDITY:
        return PassRejected(Code.VALIDITY_TOO_LONG, "validity_too_long", fields)
    if fields.community_id != community_id:
        return PassRejected(Code.WRONG_COMMUNITY, "wrong_community", fields)
    if now < fields.issued_at:
        return PassRejected(Code.NOT_YET_VALID, "not_yet_valid", fields)
    if now > fields.valid_until:
        return PassRejected(Code.EXPIRED, "expired", fields)
    return VerifiedPass(fields, key)


def _signing_key(signed: SignedPass, keys: KeySet) -> KeyEntry | PassRejected:
    candidates = keys.candidates(signed.fields.key_id)
    if not candidates:
        return PassRejected(Code.UNKNOWN_KEY, "unknown_key")
    message = signed_message(signed.body)
    for entry in candidates:  # several keys may share an id: any one that verifies counts
        if entry.verifies(message, signed.signature):
            return entry
    return PassRejected(Code.BAD_SIGNATURE, "bad_signature")
