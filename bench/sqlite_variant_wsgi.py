"""``gate.wsgi:app`` with one of ``bench/sqlite_office.py``'s variants applied in each gunicorn
worker (gunicorn imports this module after the fork), from ``CHECKPOINT_BENCH_VARIANT``:

- ``busy-handler``: the server before the writer queue: a writer waits for SQLite's write lock
  in SQLite's own busy handler (``gate.db.SQLiteWriters`` never gives a turn);
- ``queue``: as deployed;
- a ``/switch=SECONDS`` suffix sets the interpreter's thread switch interval
  (``sys.setswitchinterval``) instead of the deployed one.

Bench-only: nothing in ``gate`` reads these variables.
"""

from __future__ import annotations

import os
import sys

import gate.db

_variant = os.environ.get("CHECKPOINT_BENCH_VARIANT", "queue")
_base, _, _switch = _variant.partition("/switch=")
if _base == "busy-handler":

    def _no_turn(self: gate.db.SQLiteWriters, timeout: float) -> bool:
        return False

    gate.db.SQLiteWriters.acquire = _no_turn  # type: ignore[method-assign]
elif _base != "queue":
    raise SystemExit(f"CHECKPOINT_BENCH_VARIANT: unknown variant {_variant!r}")
if _switch:
    sys.setswitchinterval(float(_switch))

from gate.wsgi import app  # noqa: E402  (after the variant is applied)

__all__ = ["app"]
