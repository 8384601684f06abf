"""Background sync with the gate server: upload unsent crossings, refresh the bundle.

Upload contract (:meth:`Uploader.upload_pending`):

- Unsent crossings go oldest first (journal ``seq``) in batches of ``DEFAULT_BATCH`` (100: the
  server stores a chunk of 100 per transaction, several hundred items/s per device, so a
  batch answers well within the client timeout and holds the gate's lock briefly; the
  server accepts up to 500); a batch is sent only after the previous one was answered, so
  the server sees this gate's order. While one batch is with the server, the next is read
  from the journal and encoded (:meth:`ApiClient.prepare_batch`), and the answered one is
  acknowledged after the next has gone: the device's work overlaps the server's instead of
  adding to it (the request itself runs in a helper thread that touches no journal).
- A crossing becomes ``sent`` only on the server's acknowledgement (``stored`` or
  ``duplicate``); ``rejected`` moves it to ``dead`` with the server's reason (kept, listed by
  ``status``). Crossings missing from an answer stay unsent.
- A crash between the server's commit and the local acknowledgement just re-sends: the server
  is idempotent on the UUID and answers ``duplicate``.
- A whole batch refused with a 4xx other than 401/403 is split in halves until the one bad
  crossing is found and dead-lettered, so one poison item never blocks the queue.
- A batch answered with a 5xx is split the same way, so the rest is sent in the same round;
  a crossing that fails alone while the server answers others (or its bundle) counts one
  failure, and after :data:`MAX_ITEM_FAILURES` rounds (retried with the worker's backoff) it
  moves to the dead letter with the reason, so one item the server cannot take never jams
  the queue. While nothing is answered (network down, or only server errors,
  :data:`SICK_AFTER` in a row and the bundle fails too) the round stops and no crossing is
  blamed; :class:`SyncWorker` retries with exponential backoff and full jitter. Nothing is
  ever deleted.

The bundle is refreshed with ``If-None-Match``; the clock offset to the server is estimated from
the bundle's ``generated_at`` (or, after a 304 and after each upload, the ``Date`` header)
against the middle of the request (seconds, server minus device). Every server time heard
raises the clock's high-water mark and sets a new anchor (:mod:`scanner.clock`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from passes import wire
from scanner.api_client import (
    MAX_BATCH,
    ApiError,
    BundleAnswer,
    PreparedBatch,
    Refused,
    ServerError,
)
from scanner.bundle import BUNDLE_KEY, BundleError, save_bundle
from scanner.clock import observe_server_time
from scanner.journal import Ack, Journal, JournalFault, JournalRow

DEFAULT_BATCH = 100
"""Crossings per upload; small enough to be answered well inside the client's timeout."""
OFFSET_KEY = "clock_offset_s"
LAST_SYNC_KEY = "last_sync"
LAST_BUNDLE_KEY = "last_bundle_refresh"
MAX_ITEM_FAILURES = 5
"""Server errors for one crossing sent alone before it moves to the dead letter."""
SICK_AFTER = 8
"""Server errors in a row, with nothing answered in the round, before the server is probed."""


class SyncClient(Protocol):
    """The part of the API client the uploader and refresher use."""

    def upload_batch(self, crossings: Sequence[wire.Crossing]) -> list[wire.ItemResult]: ...

    def prepare_batch(self, crossings: Sequence[wire.Crossing]) -> PreparedBatch: ...

    def send_batch(self, prepared: PreparedBatch) -> list[wire.ItemResult]: ...

    def fetch_bundle(self, etag: str | None = None) -> BundleAnswer: ...


@dataclass(frozen=True)
class SyncReport:
    """One upload round. ``error`` is None when every batch was answered."""

    at: str
    sent: int = 0
    duplicates: int = 0
    dead: int = 0
    remaining: int = 0
    error: str | None = None
    failing: int = 0
    """Crossings that failed alone this round (server errors) and stay unsent for now."""

    @property
    def ok(self) -> bool:
        """True when the server answered every batch."""
        return self.error is None


def upload_item(row: JournalRow) -> wire.Crossing:
    """A journal row as one ``/crossings/batch`` item (``checkpoint.crossing.v1``)."""
    entry = row.entry
    verdict = entry.verdict
    return wire.Crossing(
        scan=wire.Scan(
            id=entry.id,
            pass_text=entry.pass_text,
            direction=entry.direction,
            temperature=entry.temperature,
            scanned_at=entry.scanned_at,
            operator=entry.operator,
            override=entry.override,
            latency_ms=entry.latency_ms,
            clock_offset_ms=entry.clock_offset_ms,
            people=entry.people,
        ),
        verdict=wire.Claim(
            allowed=bool(verdict.get("allowed")),
            code=verdict.get("code"),
            codes=tuple(verdict.get("codes") or ()),
            notes=tuple(verdict.get("notes") or ()),
            rule_version=int(verdict.get("rule_version") or 0),
        ),
    )


def _ack(result: wire.ItemResult) -> Ack:
    if result.status == "rejected":
        error = result.error
        code, message = ("rejected", "") if error is None else (error.code, error.message)
        reason = f"{code}: {message}".strip()
        return Ack(str(result.id), "dead", result.crossing_id, result.conflict_code, reason)
    return Ack(str(result.id), "sent", result.crossing_id, result.conflict_code)


class _Ahead:
    """The next batch, prepared: sent once, on the first :meth:`send`."""

    def __init__(
        self, sender: ThreadPoolExecutor, client: SyncClient, prepared: PreparedBatch | None
    ) -> None:
        self._sender, self._client, self._prepared = sender, client, prepared
        self._flight: Future[list[wire.ItemResult]] | None = None

    def send(self) -> Future[list[wire.ItemResult]] | None:
        if self._flight is None and self._prepared is not None:
            self._flight = self._sender.submit(self._client.send_batch, self._prepared)
        return self._flight


class Uploader:
    """Drains the journal's unsent crossings to the server (see module docstring)."""

    def __init__(
        self,
        client: SyncClient,
        journal: Journal,
        *,
        batch_size: int = DEFAULT_BATCH,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._journal = journal
        self._batch_size = min(batch_size, MAX_BATCH)
        self._now = now
        self._answered = False
        self._probed = False
        self._errors_in_a_row = 0
        self._suspects: list[tuple[str, str]] = []

    def upload_pending(self) -> SyncReport:
        """Upload until nothing is unsent or the server stops answering; stores the report."""
        totals = {"sent": 0, "duplicates": 0, "dead": 0}
        error: str | None = None
        self._answered, self._probed, self._errors_in_a_row = False, False, 0
        self._suspects = []
        # ids the server skipped stay unsent for the next round
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as sender:
            rows = self._unsent(after_seq=0)
            flight = self._dispatch(sender, rows)
            while rows:
                # Read and encode the next batch while this one is with the server; it is
                # sent once this one is answered, before this one is acknowledged.
                following = self._unsent(after_seq=rows[-1].seq)
                ahead = _Ahead(sender, self._client, self._prepare(following))
                try:
                    self._send(rows, totals, flight, answered=ahead.send)
                except ApiError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    suspects = {crossing_id for crossing_id, _ in self._suspects}
                    self._journal.note_attempt(
                        [r.entry.id for r in rows if r.entry.id not in suspects], error
                    )
                    break
                rows, flight = following, ahead.send()  # sent already unless it was split
        failing = self._blame(totals)
        if failing and error is None:
            error = f"{failing} crossing(s) failing alone: {self._suspects[0][1]}"
        self._note_server_time()
        report = SyncReport(
            at=self._now().isoformat().replace("+00:00", "Z"),
            remaining=self._journal.counts()["unsent"],
            error=error,
            failing=failing,
            **totals,
        )
        self._journal.set_meta(**{LAST_SYNC_KEY: asdict(report)})
        return report

    def _blame(self, totals: dict[str, int]) -> int:
        """Count a failure for each crossing that failed alone if the server answered anything
        (else it is down, and nobody is to blame). Returns how many stay unsent."""
        if not self._suspects:
            return 0
        if not self._answered:
            self._probe()
        failing = 0
        for crossing_id, reason in self._suspects:
            if not self._answered:
                self._journal.note_attempt([crossing_id], reason)
                failing += 1
            elif self._journal.note_failure(crossing_id, reason, dead_after=MAX_ITEM_FAILURES):
                totals["dead"] += 1
            else:
                failing += 1
        return failing

    def _probe(self) -> None:
        """Is the server up at all? One bundle request (usually a 304)."""
        if self._probed:
            return
        self._probed = True
        record = self._journal.get_meta(BUNDLE_KEY) or {}
        try:
            self._client.fetch_bundle(record.get("etag") if isinstance(record, dict) else None)
        except ApiError:
            return
        self._answered = True

    def _note_server_time(self) -> None:
        server_at = getattr(self._client, "server_date", None)
        if isinstance(server_at, datetime):
            rtt = getattr(self._client, "server_date_rtt_s", None) or 0.0
            note_server_time(self._journal, server_at, self._now(), rtt_s=float(rtt), whole_s=True)

    def _unsent(self, *, after_seq: int) -> list[JournalRow]:
        return self._journal.rows("unsent", after_seq=after_seq, limit=self._batch_size)

    def _prepare(self, rows: list[JournalRow]) -> PreparedBatch | None:
        return self._client.prepare_batch([upload_item(row) for row in rows]) if rows else None

    def _dispatch(
        self, sender: ThreadPoolExecutor, rows: list[JournalRow]
    ) -> Future[list[wire.ItemResult]] | None:
        prepared = self._prepare(rows)
        return None if prepared is None else sender.submit(self._client.send_batch, prepared)

    def _send(
        self,
        rows: list[JournalRow],
        totals: dict[str, int],
        flight: Future[list[wire.ItemResult]] | None = None,
        *,
        answered: Callable[[], object] | None = None,
    ) -> None:
        """Upload ``rows`` (or await ``flight``, their upload under way) and acknowledge the
        answers; a refused or failed batch is split (see the module doc). ``answered`` runs
        once the whole batch is answered, before its acknowledgement is written."""
        try:
            if flight is not None:
                results = flight.result()
            else:
                results = self._client.upload_batch([upload_item(row) for row in rows])
        except Refused as exc:
            if exc.unauthorized or exc.status == 403:
                raise
            self._answered = True
            if len(rows) == 1:  # this crossing alone is refused for good
                reason = f"{exc.code}: {exc.message}"
                self._journal.acknowledge(
                    [Ack(rows[0].entry.id, "dead", error=reason)], at=self._now()
                )
                totals["dead"] += 1
                return
            middle = len(rows) // 2
            self._send(rows[:middle], totals)
            self._send(rows[middle:], totals)
            return
        except ServerError as exc:
            self._errors_in_a_row += 1
            if self._errors_in_a_row >= SICK_AFTER and not self._answered:
                self._probe()
                if not self._answered:
                    raise  # the server is down: stop the round, blame nobody
            if len(rows) == 1:  # may be this crossing: decided at the end of the round
                self._suspects.append((rows[0].entry.id, str(exc)))
                return
            middle = len(rows) // 2
            self._send(rows[:middle], totals)
            self._send(rows[middle:], totals)
            return
        self._answered, self._errors_in_a_row = True, 0
        if answered is not None:
            answered()
        ours = {row.entry.id for row in rows}
        acks = [_ack(result) for result in results if result.id in ours]
        self._journal.acknowledge(acks, at=self._now())
        for result in results:
            if result.id in ours:
                key = {"stored": "sent", "duplicate": "duplicates", "rejected": "dead"}
                totals[key[result.status]] += 1


@dataclass(frozen=True)
class RefreshResult:
    """``changed`` (new bundle stored), ``not_modified`` (304) or ``failed`` (see ``error``)."""

    outcome: str
    version: str | None = None
    error: str | None = None


def refresh_bundle(
    client: SyncClient,
    journal: Journal,
    *,
    device_now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RefreshResult:
    """Fetch the bundle if changed, store it, and update the clock offset."""
    record = journal.get_meta(BUNDLE_KEY) or {}
    started = device_now()
    offset = float(journal.get_meta(OFFSET_KEY, 0.0))
    heard: datetime | None = None
    try:
        answer = client.fetch_bundle(record.get("etag") if record else None)
    except ApiError as exc:
        result = RefreshResult("failed", error=f"{type(exc).__name__}: {exc}")
    else:
        finished = device_now()
        data = answer.data if answer.data is not None else record.get("data")
        try:
            if data is None:
                raise BundleError("server said 304 but no bundle is cached")
            midpoint = started + (finished - started) / 2
            if answer.data is not None:
                offset = _offset(answer.data, midpoint, offset)
                heard = midpoint + timedelta(seconds=offset)
            elif isinstance(date := getattr(client, "server_date", None), datetime):
                offset = (date + timedelta(seconds=0.5) - midpoint).total_seconds()
                heard = date
            bundle = save_bundle(
                journal,
                data,
                etag=answer.etag,
                fetched_at=started + timedelta(seconds=offset),
            )
            journal.set_meta(**{OFFSET_KEY: offset})
            if heard is not None:
                observe_server_time(journal, heard, finished)
            outcome = "not_modified" if answer.data is None else "changed"
            result = RefreshResult(outcome, version=bundle.content_hash)
        except BundleError as exc:
            result = RefreshResult("failed", error=str(exc))
    journal.set_meta(**{LAST_BUNDLE_KEY: asdict(result) | {"at": started.isoformat()}})
    return result


def note_server_time(
    journal: Journal, server_at: datetime, device_at: datetime, *, rtt_s: float, whole_s: bool
) -> None:
    """The server said ``server_at`` (a ``Date`` header: ``whole_s``) in an answer the device
    received at ``device_at`` after ``rtt_s``: store the offset, raise the clock's mark."""
    server_mid = server_at + timedelta(seconds=0.5 if whole_s else 0.0)
    device_mid = device_at - timedelta(seconds=rtt_s / 2)
    journal.set_meta(**{OFFSET_KEY: (server_mid - device_mid).total_seconds()})
    observe_server_time(journal, server_at, device_at)


def _offset(data: Mapping[str, Any], device_midpoint: datetime, fallback: float) -> float:
    try:
        generated = datetime.fromisoformat(str(data["generated_at"]).replace("Z", "+00:00"))
        return (generated - device_midpoint).total_seconds()
    except (KeyError, ValueError, TypeError):
        return fallback


class ServerClock:
    """UTC now corrected by the stored offset to the server (re-read every ``ttl_s``, and at
    once when the server's time was heard again: a new clock anchor)."""

    def __init__(
        self,
        journal: Journal,
        *,
        device_now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        ttl_s: float = 30.0,
    ) -> None:
        self._journal = journal
        self._device_now = device_now
        self._monotonic = monotonic
        self._ttl_s = ttl_s
        self._offset = 0.0
        self._read_at = float("-inf")

    def __call__(self) -> datetime:
        if self._monotonic() - self._read_at >= self._ttl_s:
            self._offset = float(self._journal.get_meta(OFFSET_KEY, 0.0))
            self._read_at = self._monotonic()
        return self._device_now() + timedelta(seconds=self._offset)

    def reload(self) -> None:
        """Read the offset again on the next call."""
        self._read_at = float("-inf")

    def device_offset_ms(self) -> int | None:
        """The device's clock minus the server's, in ms (what crossings carry), or None if
        the server was never heard."""
        offset = self._journal.get_meta(OFFSET_KEY)
        return None if offset is None else -round(float(offset) * 1000)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2**n))."""

    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** min(attempt, 30)))


class SyncWorker:
    """Runs upload and bundle refresh rounds in a daemon thread until :meth:`stop`.

    ``make_client``/``open_journal`` are called inside the thread (SQLite connections belong to
    one thread). ``sleep`` is injectable; by default it is the stop event's wait, so stopping is
    immediate. After a successful round it waits ``interval_s``; after a failure, the backoff.
    """

    def __init__(
        self,
        make_client: Callable[[], SyncClient],
        open_journal: Callable[[], Journal],
        *,
        interval_s: float = 15.0,
        bundle_every_s: float = 300.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_round: Callable[[SyncReport], None] | None = None,
        sleep: Callable[[float], object] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_client = make_client
        self._open_journal = open_journal
        self._interval_s = interval_s
        self._bundle_every_s = bundle_every_s
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._on_round = on_round
        self._now = now
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _open_journal_patiently(self) -> Journal | None:
        """Open the journal, retrying with backoff (e.g. a full disk) until stopped."""
        failures = 0
        while not self._stop.is_set():
            try:
                return self._open_journal()
            except JournalFault as exc:
                report = SyncReport(at=self._now().isoformat(), error=f"journal: {exc}")
                if self._on_round is not None:
                    self._on_round(report)
                self._sleep(self._backoff.delay(failures, self._rng))
                failures += 1
        return None

    def _run(self) -> None:
        client = self._make_client()
        journal = self._open_journal_patiently()
        if journal is None:
            return
        failures = 0
        bundle_due = float("-inf")
        try:
            while not self._stop.is_set():
                try:
                    if self._monotonic() >= bundle_due:
                        refreshed = refresh_bundle(client, journal, device_now=self._now)
                        if refreshed.outcome != "failed":
                            bundle_due = self._monotonic() + self._bundle_every_s
                    report = Uploader(client, journal, now=self._now).upload_pending()
                except JournalFault as exc:
                    report = SyncReport(at=self._now().isoformat(), error=f"journal: {exc}")
                if self._on_round is not None:
                    self._on_round(report)
                failures = 0 if report.ok else failures + 1
                pause = (
                    self._interval_s if report.ok else self._backoff.delay(failures - 1, self._rng)
                )
                self._sleep(pause)
        finally:
            journal.close()
            close = getattr(client, "close", None)
            if callable(close):
                close()
