"""Cost of a gate decision next to the cost of the Ed25519 verify inside it, and the pass's size.

Measures, on this machine:

- the median time per pass of the full ``decide`` on the raw scanned text (parse, key lookup,
  signature, validity, revocation, health, quarantine, exit hours, people out, quota, next
  exit time) with a realistic household state and the default rules plus exit hours;
- the median time of a bare Ed25519 verify (pyca ``cryptography``, public key already loaded)
  of the same messages, and the ratio of the two;
- the encoded pass length, its QR version at error correction Q, and the PNG for a 40 mm
  print at 300 dpi (57 modules with the quiet zone at 8 px each).

Usage::

    python bench/verify_decide.py               # 2,000 passes, 5 rounds
    python bench/verify_decide.py --count 500 --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import statistics
import sys
from datetime import UTC, datetime, time, timedelta
from time import perf_counter_ns

import cryptography
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from PIL import Image

from passes import (
    PREFIX,
    Direction,
    ExitHours,
    HouseholdState,
    KeyEntry,
    KeySet,
    Pass,
    RuleSet,
    SigningKey,
    decide,
    qr_version,
    render_png,
)
from passes.base45 import b45decode
from passes.pass_format import BODY_LENGTH, signed_message

COMMUNITY = 4401
NOW = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)  # 10:30 in Asia/Shanghai, inside exit hours
PRINT_MM = 40.0
DPI = 300
MODULE_PX = 8  # 57 modules x 8 px = 456 px = 38.6 mm at 300 dpi (9 px would be 43.4 mm)


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} CPUs, load {load:.2f}; Python {platform.python_version()}, "
        f"cryptography {cryptography.__version__}, {platform.system()} {platform.release()}"
    )


def _key() -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench/verify-decide").digest())
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey(KeyEntry(key_id=1, public_key=public), private)


def _passes(key: SigningKey, count: int) -> list[tuple[str, HouseholdState]]:
    """``count`` signed passes, each with a household that exited two days ago and is home."""
    items = []
    for i in range(count):
        household_id = 100_000 + i
        text = key.sign(
            Pass(
                key_id=1,
                pass_id=hashlib.sha256(f"bench/{i}".encode()).digest()[:12],
                household_id=household_id,
                community_id=COMMUNITY,
                generation=1 + i % 3,
                issued_at=datetime(2026, 1, 1, tzinfo=UTC),
                valid_until=datetime(2027, 1, 1, tzinfo=UTC),
            )
        )
        state = HouseholdState(
            household_id=household_id,
            generation=1 + i % 3,
            exits=(NOW - timedelta(days=4, hours=3), NOW - timedelta(days=8)),
        )
        items.append((text, state))
    return items


def _median_us(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1000


def measure(count: int, rounds: int) -> dict[str, float]:
    key = _key()
    keys = KeySet((key.entry,))
    rules = RuleSet(exit_hours=ExitHours(time(6, 0), time(20, 0)))
    revoked = frozenset(hashlib.sha256(f"revoked/{i}".encode()).digest()[:12] for i in range(500))
    items = _passes(key, count)
    public = Ed25519PublicKey.from_public_bytes(key.entry.public_key)
    raw_items = []
    for text, _ in items:
        raw = b45decode(text[len(PREFIX) :])
        raw_items.append((signed_message(raw[:BODY_LENGTH]), raw[BODY_LENGTH:]))

    decide_ns: list[int] = []
    verify_ns: list[int] = []
    clock = perf_counter_ns
    for _ in range(rounds):
        # Interleave the two so that load changes on the machine hit both alike.
        for (text, state), (message, signature) in zip(items, raw_items, strict=True):
            started = clock()
            verdict = decide(
                text,
                keys=keys,
                community_id=COMMUNITY,
                household=state,
                revoked_pass_ids=revoked,
                rules=rules,
                direction=Direction.OUT,
                temperature=365,
                now=NOW,
            )
            decide_ns.append(clock() - started)
            if not verdict.allowed:
                raise SystemExit(f"benchmark pass refused: {verdict.codes}")
            started = clock()
            public.verify(signature, message)
            verify_ns.append(clock() - started)
    decide_us, verify_us = _median_us(decide_ns), _median_us(verify_ns)
    return {"decide_us": decide_us, "verify_us": verify_us, "ratio": decide_us / verify_us}


def qr_figures() -> dict[str, float]:
    text = _key().sign(
        Pass(
            key_id=1,
            pass_id=b"\xa5" * 12,
            household_id=2**32 - 1,
            community_id=COMMUNITY,
            generation=1,
            issued_at=datetime(2026, 1, 1, tzinfo=UTC),
            valid_until=datetime(2027, 1, 1, tzinfo=UTC),
        )
    )
    png = render_png(text, module_px=MODULE_PX)
    width, height = Image.open(io.BytesIO(png)).size
    return {
        "text_length": len(text),
        "qr_version": qr_version(text),
        "png_bytes": len(png),
        "png_px": width,
        "png_px_high": height,
        "printed_mm": width / DPI * 25.4,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="distinct passes (2000)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over them (5)")
    args = parser.parse_args(argv)

    print(f"machine: {_machine()}")
    timing = measure(args.count, args.rounds)
    samples = args.count * args.rounds
    print(f"samples: {samples} of each, medians per pass")
    print(f"  {'verify + decide (raw text)':32s} {timing['decide_us']:9.1f} us")
    print(f"  {'bare Ed25519 verify':32s} {timing['verify_us']:9.1f} us")
    print(f"  {'ratio':32s} {timing['ratio']:9.2f} x")
    qr = qr_figures()
    print(f"pass text length: {qr['text_length']:.0f} characters")
    print(f"QR version at Q: {qr['qr_version']:.0f}")
    print(
        f"PNG at {MODULE_PX} px/module: {qr['png_px']:.0f} x {qr['png_px_high']:.0f} px, "
        f"{qr['png_bytes']:.0f} bytes, {qr['printed_mm']:.1f} mm at {DPI} dpi "
        f"(target {PRINT_MM:g} mm)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
