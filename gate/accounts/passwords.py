"""Password hashing: argon2id (argon2-cffi), with rehash when the parameters change.

Hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``), so a hash made
with older parameters still verifies and :func:`needs_rehash` tells the login to replace it.
There is no default password anywhere: every password is typed by a person or generated.
"""

from __future__ import annotations

import threading
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
"""Shortest password accepted for a new or changed password."""
MAX_LENGTH = 256
"""Longest password accepted (hashing a megabyte on every login attempt is a denial of service)."""

HASHER = PasswordHasher(type=Type.ID)
"""argon2id with argon2-cffi's current RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)."""

CONCURRENT_HASHES = 1
"""Argon2 computations at once per process (each takes 64 MiB and four threads): a flood of
logins queues here, holding no lock and no transaction, instead of taking every core from
the scan API (each gunicorn worker is one process: the server hashes at most as many at once
as it has workers)."""
_HASHING = threading.BoundedSemaphore(CONCURRENT_HASHES)


class PasswordPolicyError(ValueError):
    """A new password is unacceptable; ``code`` is stable, the message says what to do."""

    def __init__(self, code: str, message: str, **params: int) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def check_policy(password: str, *, username: str = "") -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` is acceptable for a new password.

    At least :data:`MIN_LENGTH` characters, at most :data:`MAX_LENGTH`, not the username.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            "too_short",
            f"the password must have at least {MIN_LENGTH} characters",
            min_length=MIN_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(
            "too_long",
            f"the password must have at most {MAX_LENGTH} characters",
            max_length=MAX_LENGTH,
        )
    if username and password.strip().lower() == username.strip().lower():
        raise PasswordPolicyError("same_as_username", "the password must not be the username")


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    """The argon2id PHC string of ``password`` (random salt)."""
    with _HASHING:
        return hasher.hash(password)


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher = HASHER) -> bool:
    """Whether ``password`` matches ``stored_hash``; a malformed hash never matches."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        with _HASHING:
            return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = HASHER) -> bool:
    """Whether ``stored_hash`` was made with other parameters than ``hasher``'s."""
    try:
        return hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


def burn_time(password: str) -> None:
    """Spend the time of one verification, so an unknown username answers no faster."""
    verify_password(_dummy_hash(), password)


@cache
def _dummy_hash() -> str:
    # Made on first use, not at import: the CLI should not pay for a hash it never needs.
    return HASHER.hash("checkpoint-dummy-password-for-timing")
