"""Fuzz the pass decoder: random and mutated inputs through ``parse_pass`` and ``verify_pass``.

Mutations start from valid signed pass texts: bit flips (of characters and of the decoded
bytes), insertions, deletions, case changes, unicode look-alikes, truncation, repeats and
splices, one to four at a time; pure random text and non-text objects are mixed in.

Asserts, for every input: ``parse_pass`` raises nothing but ``PassError``; ``verify_pass``
raises nothing at all; no changed text verifies; and the two together take under
``--limit-ms`` (50 ms). An input that
looks slow is timed again up to three times, and fails only if every timing is over the
limit, so a scheduler pause on a busy machine is not reported as a slow input.

Usage::

    python bench/fuzz_decoder.py                 # 100,000 inputs, seed 0
    python bench/fuzz_decoder.py --count 5000 --seed 7

Prints executions, exceptions and the maximum time per input; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passes import (
    PREFIX,
    KeyEntry,
    KeySet,
    Pass,
    PassError,
    PassRejected,
    SigningKey,
    VerifiedPass,
    parse_pass,
    verify_pass,
)
from passes.base45 import ALPHABET, b45decode, b45encode

COMMUNITY = 4401
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
RETRIES = 3

ASCII = "".join(chr(c) for c in range(32, 127))
NASTY = [
    "\x00",
    "\n",
    "\r",
    "\t",
    "\x7f",
    "\u200b",  # zero-width space
    "\ufeff",  # byte order mark
    "\u0301",  # combining acute accent
    "\ud800",  # lone surrogate
    "\U0001f600",  # emoji
    "\U0001f1e8\U0001f1f3",  # flag: two code points
    "Ａ",  # fullwidth A
    "Ｃ",
    "：",  # fullwidth colon
    "С",  # Cyrillic Es, looks like C
    "Р",  # Cyrillic Er, looks like P
    "І",  # Cyrillic I
    "ǅ",  # titlecase digraph
    "ß",  # uppercases to two letters
    "ı",  # dotless i
    "中",
    "\u00a0",  # no-break space
]


def _key() -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fuzz-decoder/1").digest())
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey(KeyEntry(key_id=1, public_key=public), private)


def valid_texts(rng: random.Random, count: int = 32) -> list[str]:
    """Valid, currently verifying pass texts with random ids and times."""
    key = _key()
    texts = []
    for _ in range(count):
        issued = NOW - timedelta(seconds=rng.randrange(1, 10**7))
        texts.append(
            key.sign(
                Pass(
                    key_id=1,
                    pass_id=rng.randbytes(12),
                    household_id=rng.randrange(2**32),
                    community_id=COMMUNITY,
                    generation=rng.randrange(2**16),
                    issued_at=issued,
                    valid_until=NOW + timedelta(seconds=rng.randrange(0, 10**8)),
                )
            )
        )
    return texts


# --- mutations: each takes (text, rng) and returns new text ---------------------------------


def _char(rng: random.Random) -> str:
    pool = rng.choice((ALPHABET, ASCII, "abcdefghijklmnopqrstuvwxyz", NASTY))
    return rng.choice(pool)


def flip_char_bit(text: str, rng: random.Random) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    code = ord(text[i]) ^ (1 << rng.randrange(8 if rng.random() < 0.8 else 20))
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        code = 0xFFFD
    return text[:i] + chr(code) + text[i + 1 :]


def flip_decoded_bit(text: str, rng: random.Random) -> str:
    """Flip a bit of the decoded bytes and re-encode: stays well-formed, breaks the signature."""
    try:
        raw = bytearray(b45decode(text[len(PREFIX) :]))
    except ValueError:
        return flip_char_bit(text, rng)
    if not raw:
        return text
    bit = rng.randrange(len(raw) * 8)
    raw[bit // 8] ^= 1 << (bit % 8)
    return PREFIX + b45encode(bytes(raw))


def insert(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + "".join(_char(rng) for _ in range(rng.randint(1, 3))) + text[i:]


def delete(text: str, rng: random.Random) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    return text[:i] + text[i + rng.randint(1, 3) :]


def change_case(text: str, rng: random.Random) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        return text.lower()
    if choice == 1:
        return text.swapcase()
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if chars:
            i = rng.randrange(len(chars))
            chars[i] = chars[i].lower()
    return "".join(chars)


def unicode_lookalike(text: str, rng: random.Random) -> str:
    if not text:
        return rng.choice(NASTY)
    i = rng.randrange(len(text))
    ch = text[i]
    if "!" <= ch <= "~" and rng.random() < 0.5:
        replacement = chr(ord(ch) + 0xFEE0)  # the fullwidth form
    else:
        replacement = rng.choice(NASTY)
    return text[:i] + replacement + text[i + 1 :]


def truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


def repeat(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return text * rng.randint(2, 8)
    i = rng.randrange(len(text) + 1)
    j = rng.randrange(i, len(text) + 1)
    return text[:j] + text[i:j] * rng.randint(1, 50) + text[j:]


def splice(text: str, rng: random.Random) -> str:
    """Swap two slices: valid characters, shuffled groups."""
    if len(text) < 8:
        return text
    i, j = sorted(rng.sample(range(len(text)), 2))
    return text[:i] + text[j:] + text[i:j]


MUTATIONS: tuple[Callable[[str, random.Random], str], ...] = (
    flip_char_bit,
    flip_decoded_bit,
    insert,
    delete,
    change_case,
    unicode_lookalike,
    truncate,
    repeat,
    splice,
)


def random_input(rng: random.Random) -> object:
    """Input not derived from a pass: random text, random Base45 behind the prefix, objects."""
    kind = rng.randrange(6)
    if kind == 0:
        return "".join(_char(rng) for _ in range(rng.randrange(0, 200)))
    if kind == 1:
        return PREFIX + "".join(rng.choice(ALPHABET) for _ in range(146))
    if kind == 2:
        return PREFIX + b45encode(rng.randbytes(rng.choice((96, 97, 98))))
    if kind == 3:
        return PREFIX + b45encode(b"\x01" + rng.randbytes(96))
    if kind == 4:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(0, 600)))
    return rng.choice((None, b"CP1:", bytearray(200), 0, -1, 2**70, 1.5, float("nan"), [], {}))


def make_input(rng: random.Random, seeds: list[str]) -> object:
    if rng.random() < 0.15:
        return random_input(rng)
    text = rng.choice(seeds)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        text = rng.choice(MUTATIONS)(text, rng)
    return text


# --- the run -------------------------------------------------------------------------------


@dataclass
class FuzzReport:
    executions: int = 0
    exceptions: list[tuple[str, str]] = field(default_factory=list)
    slow: list[tuple[str, float]] = field(default_factory=list)
    max_ms: float = 0.0
    retimed: int = 0
    accepted: int = 0
    forged: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.exceptions and not self.slow and not self.forged


def _one(
    candidate: object,
    keys: KeySet,
    parse: Callable[[object], object],
    verify: Callable[..., object],
) -> tuple[str | None, str]:
    """Run both targets on ``candidate``: (failure description or None, outcome label)."""
    try:
        parse(candidate)
    except PassError:
        pass
    except Exception as exc:
        return f"parse_pass raised {type(exc).__name__}: {exc}", "error"
    try:
        check = verify(candidate, keys, community_id=COMMUNITY, now=NOW)
    except Exception as exc:
        return f"verify_pass raised {type(exc).__name__}: {exc}", "error"
    if isinstance(check, PassRejected):
        return None, f"{check.code.value}/{check.detail}"
    if isinstance(check, VerifiedPass):
        return None, "verified"
    return f"verify_pass returned {type(check).__name__}", "error"


def run(
    count: int = 100_000,
    seed: int = 0,
    *,
    limit_ms: float = 50.0,
    parse: Callable[[object], object] = parse_pass,
    verify: Callable[..., object] = verify_pass,
) -> FuzzReport:
    """Fuzz ``count`` inputs; the targets are injectable so the harness itself can be tested."""
    rng = random.Random(seed)
    seeds = valid_texts(rng)
    keys = KeySet((_key().entry,))
    report = FuzzReport()
    for _ in range(count):
        candidate = make_input(rng, seeds)
        started = time.perf_counter()
        failure, outcome = _one(candidate, keys, parse, verify)
        elapsed = (time.perf_counter() - started) * 1000
        if elapsed > limit_ms:
            report.retimed += 1
            for _ in range(RETRIES):
                started = time.perf_counter()
                _one(candidate, keys, parse, verify)
                elapsed = min(elapsed, (time.perf_counter() - started) * 1000)
            if elapsed > limit_ms:
                report.slow.append((repr(candidate)[:200], elapsed))
        report.executions += 1
        report.max_ms = max(report.max_ms, elapsed)
        report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        if outcome == "verified":
            report.accepted += 1
            if candidate not in seeds:  # a changed text that still verifies: a forgery
                report.forged.append(repr(candidate)[:200])
        if failure is not None:
            report.exceptions.append((repr(candidate)[:200], failure))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs to try (100000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed, for replays (0)")
    parser.add_argument("--limit-ms", type=float, default=50.0, help="per-input limit (50)")
    parser.add_argument("--outcomes", action="store_true", help="print the count of each code")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    report = run(args.count, args.seed, limit_ms=args.limit_ms)
    wall = time.perf_counter() - started

    print(f"executions: {report.executions}")
    print(f"exceptions: {len(report.exceptions)}")
    print(
        f"max ms per input: {report.max_ms:.3f} (limit {args.limit_ms:g}; retimed {report.retimed})"
    )
    print(f"slow inputs: {len(report.slow)}")
    print(
        f"verified inputs: {report.accepted} "
        f"(unchanged pass texts; changed texts that verified: {len(report.forged)})"
    )
    print(f"wall time: {wall:.1f} s, seed {args.seed}")
    if args.outcomes:
        for outcome, n in sorted(report.outcomes.items(), key=lambda item: -item[1]):
            print(f"  {n:8d}  {outcome}")
    for candidate, failure in report.exceptions[:20]:
        print(f"EXCEPTION {failure} on {candidate}")
    for candidate in report.forged[:20]:
        print(f"FORGERY ACCEPTED {candidate}")
    for candidate, ms in report.slow[:20]:
        print(f"SLOW {ms:.1f} ms on {candidate}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
