"""``gate.wsgi:app`` with one of ``bench/sqlite_office.py``'s variants applied in each gunicorn
worker (gunicorn imports this module after the fork), from ``CHECKPOINT_BENCH_VARIANT``:

- ``before``: the server before this bench's changes: a writer waits for SQLite's write lock
  in SQLite's own busy handler (``gate.db.SQLiteWriters`` never gives a turn), SQLite syncs
  the WAL inside ``COMMIT`` (``synchronous=FULL``), holding the write lock meanwhile, and the
  interpreter's thread switch interval is Python's 5 ms;
- ``queue``: writers take turns (``SQLiteWriters``); the rest as ``before``;
- ``deployed``: as deployed: turns, the WAL synced after the turn, and the switch interval of
  ``deploy/gunicorn.conf.py``'s ``post_fork`` (0.5 ms on SQLite);
- a ``/switch=SECONDS`` suffix sets the switch interval (``sys.setswitchinterval``).

With ``CHECKPOINT_BENCH_TURNS=FILE`` (variants with turns) each worker appends to FILE, when it
exits, one JSON line: for each writing transaction, when it asked for its turn (``time.time()``)
and the milliseconds it waited for it and held it.

Bench-only: nothing in ``gate`` reads these variables.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from typing import Any

import gate.db

_variant = os.environ.get("CHECKPOINT_BENCH_VARIANT", "deployed")
_base, _, _switch = _variant.partition("/switch=")
if _base not in ("before", "queue", "deployed"):
    raise SystemExit(f"CHECKPOINT_BENCH_VARIANT: unknown variant {_variant!r}")
if _base == "before":

    def _no_turn(self: gate.db.SQLiteWriters, timeout: float) -> bool:
        return False

    gate.db.SQLiteWriters.acquire = _no_turn  # type: ignore[method-assign]
if _base in ("before", "queue"):
    _on_connect = gate.db._sqlite_on_connect

    def _sync_in_commit(dbapi_connection: Any, connection_record: Any) -> None:
        _on_connect(dbapi_connection, connection_record)
        dbapi_connection.execute("PRAGMA synchronous=FULL")
        dbapi_connection.checkpoint_wal = None  # SQLite syncs; gate.db does not

    gate.db._sqlite_on_connect = _sync_in_commit
if _switch:
    sys.setswitchinterval(float(_switch))
elif _base != "deployed":
    sys.setswitchinterval(0.005)  # Python's default, as before post_fork set it

_turns_file = os.environ.get("CHECKPOINT_BENCH_TURNS")
if _turns_file and _base != "before":
    _turns_path: str = _turns_file
    _turns: list[tuple[float, float, float]] = []
    _since = threading.local()
    _acquire, _release = gate.db.SQLiteWriters.acquire, gate.db.SQLiteWriters.release

    def _timed_acquire(self: gate.db.SQLiteWriters, timeout: float) -> bool:
        _since.asked, began = time.time(), time.perf_counter()
        got = _acquire(self, timeout)
        _since.at = time.perf_counter()
        _since.waited = (_since.at - began) * 1000
        return got

    def _timed_release(self: gate.db.SQLiteWriters) -> None:
        _turns.append((_since.asked, _since.waited, (time.perf_counter() - _since.at) * 1000))
        _release(self)

    def _write_turns() -> None:
        with open(_turns_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(_turns) + "\n")

    gate.db.SQLiteWriters.acquire = _timed_acquire  # type: ignore[method-assign]
    gate.db.SQLiteWriters.release = _timed_release  # type: ignore[method-assign]
    atexit.register(_write_turns)

from gate.wsgi import app  # noqa: E402  (after the variant is applied)

__all__ = ["app"]
