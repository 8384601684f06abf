"""The scanner's local journal: every crossing, durably, before any verdict is shown.

SQLite in WAL mode with ``synchronous=FULL``: :meth:`Journal.record` returns only after the
crossing row and the household state it produced are committed in one transaction, so a
power cut after a green screen can never lose that crossing. Tables:

- ``crossings``: one row per crossing, keyed by the client UUID; ``seq`` is the order of
  recording (uploads go oldest first). ``state`` is ``unsent`` -> ``sent`` (the server
  acknowledged it) or ``dead`` (the server rejected it for good, or kept failing: see
  :meth:`Journal.note_failure`; kept and shown). ``failures`` counts server errors for this
  crossing alone; ``clock_offset_ms`` is the device's clock minus the server's when it was
  scanned. Only synced rows are ever deleted: a trigger refuses deleting a row that is not
  ``sent`` (the server has every ``sent`` row; ``unsent`` and ``dead`` ones exist only here),
  so no bug or stray statement can lose a crossing the office has not got.
- ``households``: this device's newest view of a household's state (from its own crossings).
- ``meta``: the cached bundle (JSON, ETag, fetch time), clock offset, the clock's high-water
  mark (raised by every crossing in the same transaction), last sync result.

Compaction (:meth:`Journal.purge`, ``checkpoint-scanner purge --before DATE``): when the
data must go (the community's retention after the lockdown), synced crossings scanned before
a day are deleted in one transaction, with the household states no remaining row needs; then
``VACUUM`` rewrites the file so the deleted rows are gone from the disk too (not just marked
free), and the WAL is truncated. The delete is one durable transaction (a power cut leaves
the rows or none of them); ``VACUUM`` is atomic in SQLite (the old file stays valid until
it commits). ``seq`` keeps growing after a purge: the highest one ever given is kept in
``meta`` (``seq_floor``), so a newer crossing never reuses an older one's number.

Every storage failure (disk full, I/O error, a corrupt file) raises :class:`JournalFault`;
the scan loop turns it into a fault screen, never a green one. One :class:`Journal` per
thread (SQLite connections are not shared across threads); several may open the same file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from passes import Direction, HouseholdState, Override, format_utc, parse_utc

CrossingState = Literal["unsent", "sent", "dead"]
SCHEMA_VERSION = 4
SEQ_FLOOR_KEY = "seq_floor"
"""Meta key of the highest ``seq`` a purge deleted: new rows number on from above it."""
CLOCK_MARK_KEY = "clock_mark"
"""Meta key of the newest time seen (see :mod:`scanner.clock`); raised by :meth:`Journal.record`."""
_NO_MARK_CODES = frozenset({"clock_fault"})
"""Crossings whose time never raises the mark (their clock was found wrong)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS crossings (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    scanned_at TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    pass_text TEXT NOT NULL,
    temperature INTEGER,
    operator TEXT,
    override TEXT,
    latency_ms INTEGER,
    verdict TEXT NOT NULL,
    household_id INTEGER,
    offline INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('unsent', 'sent', 'dead')),
    server_crossing_id INTEGER,
    conflict_code TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    acked_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    clock_offset_ms INTEGER,
    people INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS crossings_by_state ON crossings (state, seq);
CREATE INDEX IF NOT EXISTS crossings_by_household ON crossings (household_id, seq);
DROP TRIGGER IF EXISTS crossings_append_only;
CREATE TRIGGER IF NOT EXISTS crossings_keep_unsynced BEFORE DELETE ON crossings
WHEN OLD.state != 'sent'
BEGIN SELECT RAISE(ABORT, 'the journal is append-only until a crossing is synced'); END;
CREATE TABLE IF NOT EXISTS households (
    household_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_UPGRADES = (
    # schema 2: server errors counted per crossing (dead letter after a few), clock offsets
    # schema 3: synced rows may be deleted (the trigger above), for purges
    ("failures", "ALTER TABLE crossings ADD COLUMN failures INTEGER NOT NULL DEFAULT 0"),
    ("clock_offset_ms", "ALTER TABLE crossings ADD COLUMN clock_offset_ms INTEGER"),
    # schema 4: how many persons crossed on the pass (per-person counting)
    ("people", "ALTER TABLE crossings ADD COLUMN people INTEGER NOT NULL DEFAULT 1"),
)


class JournalFault(Exception):
    """The journal cannot store or read (disk full, I/O error, corruption). Never show green."""


@dataclass(frozen=True)
class CrossingEntry:
    """A crossing as recorded. ``verdict`` is the wire verdict dict (see :mod:`scanner.deciding`).

    Online crossings are recorded ``sent`` (the server already has them) with the server's id.
    """

    id: str
    pass_text: str
    direction: Direction
    temperature: int | None
    scanned_at: datetime
    verdict: dict[str, Any]
    offline: bool
    household_id: int | None = None
    operator: str | None = None
    override: Override | None = None
    latency_ms: int | None = None
    state: CrossingState = "unsent"
    server_crossing_id: int | None = None
    clock_offset_ms: int | None = None
    people: int = 1


@dataclass(frozen=True)
class JournalRow:
    """A stored crossing with its upload bookkeeping."""

    entry: CrossingEntry
    seq: int
    attempts: int
    error: str | None
    conflict_code: str | None
    acked_at: datetime | None
    failures: int = 0


@dataclass(frozen=True)
class Ack:
    """The server's answer for one uploaded crossing: ``sent`` (stored/duplicate) or ``dead``."""

    id: str
    state: Literal["sent", "dead"]
    server_crossing_id: int | None = None
    conflict_code: str | None = None
    error: str | None = None


class Journal:
    """The journal at ``path`` (created if missing). Close it, or use it as a context manager."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Only a new (or older) file is written to: opening a current journal must
                # work on a full disk too (status, sync, reading what was recorded).
                self._db.executescript(_SCHEMA)  # idempotent: every statement is IF NOT EXISTS
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(crossings)")}
                for column, statement in _UPGRADES:
                    if column not in columns:
                        self._db.execute(statement)
                if (newest := self.newest_scan()) is not None:  # from before the clock's mark
                    with self._transaction() as db:
                        self._raise_mark(db, newest)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise JournalFault(f"cannot open journal {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection; idempotent."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:  # SQLITE_FULL and I/O errors roll back by themselves
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalFault(f"journal write failed: {exc}") from exc

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalFault(f"journal read failed: {exc}") from exc

    # --- crossings ---------------------------------------------------------------------------

    def record(self, entry: CrossingEntry, state_after: HouseholdState | None = None) -> None:
        """Commit ``entry`` and the household's new state in one transaction (MUST precede any
        verdict shown). Raises JournalFault, or sqlite3.IntegrityError wrapped as JournalFault
        when the UUID was already recorded."""
        override = (
            None
            if entry.override is None
            else json.dumps(
                {"supervisor": entry.override.supervisor, "reason": entry.override.reason}
                # the supervisor card, uploaded for the server to verify at the scan time
                | ({} if entry.override.card is None else {"card": entry.override.card})
            )
        )
        acked = format_utc(entry.scanned_at) if entry.state == "sent" else None
        with self._transaction() as db:
            db.execute(
                "INSERT INTO crossings (id, seq, scanned_at, direction, pass_text, temperature,"
                " operator, override, latency_ms, verdict, household_id, offline, state,"
                " server_crossing_id, acked_at, clock_offset_ms, people) VALUES (?, (SELECT"
                " MAX(COALESCE(MAX(seq), 0), COALESCE((SELECT CAST(value AS INTEGER) FROM meta"
                " WHERE key = 'seq_floor'), 0)) + 1 FROM crossings), ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    format_utc(entry.scanned_at),
                    entry.direction.value,
                    entry.pass_text,
                    entry.temperature,
                    entry.operator,
                    override,
                    entry.latency_ms,
                    json.dumps(entry.verdict, ensure_ascii=False, sort_keys=True),
                    entry.household_id,
                    int(entry.offline),
                    entry.state,
                    entry.server_crossing_id,
                    acked,
                    entry.clock_offset_ms,
                    entry.people,
                ),
            )
            if entry.verdict.get("code") not in _NO_MARK_CODES:
                self._raise_mark(db, entry.scanned_at)
            if state_after is not None:
                db.execute(
                    "INSERT INTO households (household_id, state, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (household_id) DO UPDATE SET state = excluded.state,"
                    " updated_at = excluded.updated_at",
                    (
                        state_after.household_id,
                        json.dumps(state_after.to_dict()),
                        format_utc(entry.scanned_at),
                    ),
                )

    def get(self, crossing_id: str) -> JournalRow | None:
        """One crossing by its UUID."""
        rows = self._query(_SELECT + " WHERE id = ?", (crossing_id,))
        return _row(rows[0]) if rows else None

    def rows(
        self, state: CrossingState | None = None, *, after_seq: int = 0, limit: int = -1
    ) -> list[JournalRow]:
        """Crossings in recording order after ``after_seq``, optionally only those in ``state``."""
        found = self._query(
            _SELECT + " WHERE (? IS NULL OR state = ?) AND seq > ? ORDER BY seq LIMIT ?",
            (state, state, after_seq, limit),
        )
        return [_row(item) for item in found]

    def counts(self) -> dict[CrossingState, int]:
        """Number of crossings per state (all three keys present)."""
        counts: dict[CrossingState, int] = {"unsent": 0, "sent": 0, "dead": 0}
        for state, count in self._query("SELECT state, COUNT(*) FROM crossings GROUP BY state"):
            counts[state] = int(count)
        return counts

    def acknowledge(self, acks: Sequence[Ack], *, at: datetime) -> None:
        """Apply the server's answers in one transaction. Only unsent rows change."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE crossings SET state = ?, server_crossing_id = ?, conflict_code = ?,"
                " error = ?, acked_at = ?, attempts = attempts + 1"
                " WHERE id = ? AND state = 'unsent'",
                [
                    (a.state, a.server_crossing_id, a.conflict_code, a.error, format_utc(at), a.id)
                    for a in acks
                ],
            )

    def note_failure(self, crossing_id: str, error: str, *, dead_after: int) -> bool:
        """Count a server error for this crossing alone (it was sent by itself); after
        ``dead_after`` of them it becomes ``dead`` with ``error``. Returns whether it did."""
        with self._transaction() as db:
            db.execute(
                "UPDATE crossings SET attempts = attempts + 1, failures = failures + 1,"
                " error = ? WHERE id = ? AND state = 'unsent'",
                (error, crossing_id),
            )
            cursor = db.execute(
                "UPDATE crossings SET state = 'dead', error = ? WHERE id = ? AND state = 'unsent'"
                " AND failures >= ?",
                (f"{error} ({dead_after} attempts)", crossing_id, dead_after),
            )
            return cursor.rowcount > 0

    def note_attempt(self, ids: Sequence[str], error: str) -> None:
        """Count a failed upload attempt of ``ids`` (they stay unsent)."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE crossings SET attempts = attempts + 1, error = ? WHERE id = ?"
                " AND state = 'unsent'",
                [(error, crossing_id) for crossing_id in ids],
            )

    def purge(self, before: datetime) -> int:
        """Delete the synced crossings scanned before ``before`` and the household states no
        remaining crossing needs, then compact the file; returns the crossings deleted.

        Unsent and dead crossings are never deleted (the trigger refuses it as well).
        """
        with self._transaction() as db:
            top = db.execute(
                "SELECT MAX(seq) FROM crossings WHERE state = 'sent'"
                " AND julianday(scanned_at) < julianday(?)",
                (format_utc(before),),
            ).fetchone()[0]
            if top is None:
                return 0
            floor = db.execute(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?", (SEQ_FLOOR_KEY,)
            ).fetchone()
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (SEQ_FLOOR_KEY, json.dumps(max(int(top), floor[0] if floor else 0))),
            )
            deleted = db.execute(
                "DELETE FROM crossings WHERE state = 'sent'"
                " AND julianday(scanned_at) < julianday(?)",
                (format_utc(before),),
            ).rowcount
            db.execute(
                "DELETE FROM households WHERE julianday(updated_at) < julianday(?)"
                " AND household_id NOT IN"
                " (SELECT household_id FROM crossings WHERE household_id IS NOT NULL)",
                (format_utc(before),),
            )
        self.compact()
        return int(deleted)

    def compact(self) -> None:
        """Rewrite the file without the space deleted rows held (``VACUUM``), then truncate
        the WAL, so deleted data is gone from the disk and the file shrinks."""
        try:
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise JournalFault(f"journal compaction failed: {exc}") from exc

    # --- the clock's high-water mark ---------------------------------------------------------

    @staticmethod
    def _raise_mark(db: sqlite3.Connection, moment: datetime) -> None:
        found = db.execute("SELECT value FROM meta WHERE key = ?", (CLOCK_MARK_KEY,)).fetchone()
        current = parse_utc(json.loads(found[0])) if found else None
        if current is None or moment > current:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CLOCK_MARK_KEY, json.dumps(format_utc(moment))),
            )

    def newest_scan(self) -> datetime | None:
        """The newest scan time among the last rows recorded (a journal from before the mark
        existed starts its mark from this)."""
        found = self._query("SELECT scanned_at FROM crossings ORDER BY seq DESC LIMIT 200")
        times = [moment for (text,) in found if (moment := parse_utc(text)) is not None]
        return max(times, default=None)

    # --- household states --------------------------------------------------------------------

    def local_household(self, household_id: int, *, since: datetime) -> HouseholdState | None:
        """This device's state of the household if a crossing of it may be missing from a bundle
        fetched at ``since`` (unsent, or acknowledged at or after ``since``); else None."""
        pending = self._query(
            "SELECT 1 FROM crossings WHERE household_id = ? AND (state = 'unsent'"
            " OR (state = 'sent' AND acked_at >= ?)) LIMIT 1",
            (household_id, format_utc(since)),
        )
        if not pending:
            return None
        found = self._query("SELECT state FROM households WHERE household_id = ?", (household_id,))
        return HouseholdState.from_dict(json.loads(found[0][0])) if found else None

    def entered_with(self, pass_text: str) -> bool:
        """Whether this device let someone in with exactly ``pass_text`` (a single-use visitor
        pass it consumed itself, perhaps not yet known to the server's bundle)."""
        rows = self._query(
            "SELECT verdict FROM crossings WHERE pass_text = ? AND direction = 'in'", (pass_text,)
        )
        return any(json.loads(row[0]).get("allowed") is True for row in rows)

    # --- meta --------------------------------------------------------------------------------

    def set_meta(self, **values: object) -> None:
        """Store JSON values under their keys, in one transaction."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value, ensure_ascii=False)) for key, value in values.items()],
            )

    def get_meta(self, key: str, default: object = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        found = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(found[0][0]) if found else default

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` lines: ``["ok"]`` for a healthy file."""
        return [str(line[0]) for line in self._query("PRAGMA integrity_check")]


_SELECT = (
    "SELECT id, pass_text, direction, temperature, scanned_at, verdict, offline, household_id,"
    " operator, override, latency_ms, state, server_crossing_id, seq, attempts, error,"
    " conflict_code, acked_at, failures, clock_offset_ms, people FROM crossings"
)


def _row(item: tuple[Any, ...]) -> JournalRow:
    override = json.loads(item[9]) if item[9] else None
    scanned_at = parse_utc(item[4])
    assert scanned_at is not None  # NOT NULL column
    entry = CrossingEntry(
        id=item[0],
        pass_text=item[1],
        direction=Direction(item[2]),
        temperature=item[3],
        scanned_at=scanned_at,
        verdict=json.loads(item[5]),
        offline=bool(item[6]),
        household_id=item[7],
        operator=item[8],
        override=None if override is None else Override(**override),
        latency_ms=item[10],
        state=item[11],
        server_crossing_id=item[12],
        clock_offset_ms=item[19],
        people=item[20],
    )
    return JournalRow(entry, item[13], item[14], item[15], item[16], parse_utc(item[17]), item[18])
