"""Password hashing: argon2id (argon2-cffi), with rehash when the parameters change.

Hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``), so a hash made
with older parameters still verifies and :func:`needs_rehash` tells the login to replace it.
There is no default password anywhere: every password is typed by a person or generated.
"""

from __future__ import annotations

import secrets
import string
import threading
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
"""Shortest password accepted for a new or changed password."""
COMMON_PASSWORDS_FILE = "common_passwords.txt"
"""The 10,000 most common passwords, beside this module (zxcvbn's list, MIT)."""
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

    At least :data:`MIN_LENGTH` characters, at most :data:`MAX_LENGTH`; not the username and
    not containing it; not trivial (fewer than four different characters, a repeated
    group, a run such as ``1234567890`` or ``qwertyuiop``); not one of the 10,000 most
    common passwords, also with digits or punctuation around it (``password12``).
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
    lowered = password.strip().lower()
    name = username.strip().lower()
    if name and lowered == name:
        raise PasswordPolicyError("same_as_username", "the password must not be the username")
    if len(name) >= MIN_NAME_IN_PASSWORD and name in lowered:
        raise PasswordPolicyError("contains_username", "the password must not contain the username")
    if is_trivial(lowered):
        raise PasswordPolicyError("too_simple", "the password is a repetition or a sequence")
    if is_common(lowered):
        raise PasswordPolicyError("too_common", "the password is one of the most common ones")


MIN_NAME_IN_PASSWORD = 3
"""A username at least this long may not appear inside the password."""
_RUNS = (
    "01234567890",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
)
_TRIM = string.digits + string.punctuation + string.whitespace
MIN_COMMON_CORE = 4
"""A common password with digits or punctuation around it counts only if this long."""


def is_trivial(lowered: str) -> bool:
    """Whether ``lowered`` is a repetition (``aaaaaaaaaa``, ``abcabcabca``) or a run along
    the alphabet, the digits or the keyboard, either way (``1234567890``, ``poiuytrewq``)."""
    if len(set(lowered)) < 4:
        return True
    for size in range(1, len(lowered) // 2 + 1):
        unit = lowered[:size]
        if (unit * (len(lowered) // size + 1))[: len(lowered)] == lowered:
            return True
    for run in _RUNS:
        cycle = run * (len(lowered) // len(run) + 2)
        if lowered in cycle or lowered in cycle[::-1]:
            return True
    return False


def is_common(lowered: str) -> bool:
    """Whether ``lowered``, or its core without leading and trailing digits and punctuation,
    is one of the common passwords (``gate/accounts/common_passwords.txt``)."""
    common = common_passwords()
    core = lowered.strip(_TRIM)
    return lowered in common or (len(core) >= MIN_COMMON_CORE and core in common)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (read once)."""
    text = resources.files("gate.accounts").joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


GENERATED_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
"""The characters of a generated password: lower-case letters and digits without those read
or typed one for another (no ``0``/``o``, no ``1``/``l``/``i``): 31 characters."""
GENERATED_GROUPS = 5
GENERATED_GROUP_SIZE = 4
GENERATED_SEPARATOR = "-"


def generate_password(username: str = "") -> str:
    """A new random password for a person to be told once (a new user, a forgotten one).

    Easy to read aloud and to type in gloves: five groups of four lower-case letters and
    digits from :data:`GENERATED_ALPHABET` (no ``0 o 1 l i``), joined by ``-``, e.g.
    ``k7mx-3hqa-vw9e-p2rt-u8nd``. Entropy: 20 characters from 31 is
    20 x log2(31) = 20 x 4.954 = 99.1 bits, more than the 96 bits of the
    ``secrets.token_urlsafe(12)`` it replaces (four groups would be 79.3 bits, under 80).
    The dashes add nothing and are part of the password; :func:`generated_spelling` lets a
    login accept it typed without them or in capitals. Always passes :func:`check_policy`
    (drawn again in the unlikely case it contains ``username``).
    """
    while True:
        letters = "".join(
            secrets.choice(GENERATED_ALPHABET)
            for _ in range(GENERATED_GROUPS * GENERATED_GROUP_SIZE)
        )
        password = _grouped(letters)
        try:
            check_policy(password, username=username)
        except PasswordPolicyError:
            continue
        return password


def generated_spelling(typed: str) -> str | None:
    """The generated-form password that ``typed`` spells another way, or None.

    ``typed`` spells one when, with spaces and dashes removed and in lower case, it is
    twenty characters of :data:`GENERATED_ALPHABET` (``K7MX3HQAVW9EP2RTU8ND``,
    ``k7mx 3hqa vw9e p2rt u8nd``); the answer is its canonical form
    (``k7mx-3hqa-vw9e-p2rt-u8nd``). None when ``typed`` is already that form or is no such
    spelling. A login that fails with ``typed`` tries this one form too: one more candidate,
    never a search, so a guess is worth at most two and the 99 bits of a generated password
    are unchanged; a password a person chose is verified exactly as typed.
    """
    letters = "".join(ch for ch in typed.lower() if ch not in " -")
    if len(letters) != GENERATED_GROUPS * GENERATED_GROUP_SIZE:
        return None
    if any(ch not in GENERATED_ALPHABET for ch in letters):
        return None
    canonical = _grouped(letters)
    return None if canonical == typed else canonical


def _grouped(letters: str) -> str:
    size = GENERATED_GROUP_SIZE
    return GENERATED_SEPARATOR.join(letters[i : i + size] for i in range(0, len(letters), size))


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
