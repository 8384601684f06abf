"""Sync through a flaky network into the real gate server: every crossing once, in order.

The gate app (``create_app``) runs in-process behind ``httpx.WSGITransport`` on a SQLite file
with the demo compound; two enrolled scanners each hold a journal of offline crossings for all
the compound's households. Between each scanner's ApiClient and the app sits
:class:`FlakyNetwork`, which on every request, at random:

- drops the response after the server committed (the app ran; the client gets ReadTimeout),
- delivers the request twice (the client sees either answer),
- holds the request back (the client gets ReadTimeout; the request reaches the server later,
  from another thread, possibly while the scanner is already sending its retry or the next
  batch),
- replays an old, already answered request later from another thread.

The two uploaders run concurrently (as two scanners at one gate would) and loop until nothing
is unsent. Then: each journal crossing is on the server exactly once, nothing else is, none
was rejected, each device's order is what its journal recorded (by scan time and by the gate
chain's order), the chain verifies, and every journal row is ``sent``.

Counts: 1,000 crossings (small) / 10,000 (full), split over the two scanners.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gate.app import create_app
from gate.settings import Settings
from scanner.api_client import ApiClient
from scanner.journal import Journal
from scanner.sync import Uploader
from tests.faults.compound import (
    MARKS,
    assert_chain_intact,
    assert_delivered_exactly_once,
    build_compound,
    describe,
    enroll,
    fast_dir,
    record_offline,
    scaled,
    server_rows,
)

pytestmark = [*MARKS, pytest.mark.timeout(scaled(300, 3600))]

CROSSINGS = scaled(1_000, 10_000)
BATCH = scaled(25, 100)
BASE = "http://gate.test"


def _copy(request: httpx.Request) -> httpx.Request:
    """A fresh request with the same method, URL, headers and body (sendable again)."""
    return httpx.Request(
        request.method, request.url, headers=request.headers, content=request.read()
    )


class FlakyNetwork(httpx.BaseTransport):
    """A lossy, duplicating, reordering network in front of ``inner`` (see module docstring).

    Held and replayed requests are delivered by one background thread (:meth:`drain` waits for
    it); their answers go nowhere, as on a real network.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        rng: random.Random,
        *,
        drop: float = 0.30,
        duplicate: float = 0.15,
        hold: float = 0.10,
        replay: float = 0.10,
    ) -> None:
        self._inner = inner
        self._rng = rng
        self._p = {"drop": drop, "duplicate": duplicate, "hold": hold, "replay": replay}
        self._history: list[httpx.Request] = []
        self._later: queue.Queue[tuple[float, httpx.Request] | None] = queue.Queue()
        self.counts: Counter[str] = Counter()
        self.late_errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._deliver_later, daemon=True)
        self._thread.start()

    def _chance(self, what: str) -> bool:
        with self._lock:
            return self._rng.random() < self._p[what]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.counts["requests"] += 1
        original = _copy(request)
        if self._history and self._chance("replay"):
            with self._lock:
                old = self._rng.choice(self._history)
                delay = self._rng.uniform(0, 0.3)
            self.counts["replayed"] += 1
            self._later.put((time.monotonic() + delay, _copy(old)))
        with self._lock:
            self._history.append(original)
        if self._chance("hold"):
            self.counts["held"] += 1
            with self._lock:
                delay = self._rng.uniform(0, 0.3)
            self._later.put((time.monotonic() + delay, _copy(original)))
            raise httpx.ReadTimeout("held back by the network", request=request)
        response = self._deliver(_copy(original))
        if self._chance("duplicate"):
            self.counts["duplicated"] += 1
            second = self._deliver(_copy(original))
            with self._lock:
                response = second if self._rng.random() < 0.5 else response
        if self._chance("drop"):
            self.counts["dropped"] += 1  # the server committed; the answer is lost
            raise httpx.ReadTimeout("response lost", request=request)
        return response

    def _deliver(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read()
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def _deliver_later(self) -> None:
        while (item := self._later.get()) is not None:
            at, request = item
            time.sleep(max(0.0, at - time.monotonic()))
            try:
                answer = self._deliver(request)
                self.counts[f"late_{answer.status_code}"] += 1
            except BaseException as exc:
                self.late_errors.append(exc)

    def drain(self) -> None:
        """Deliver every held and replayed request, then stop the background thread."""
        self._later.put(None)
        self._thread.join(60)
        assert not self._thread.is_alive()


def test_flaky_network_delivers_every_crossing_exactly_once_in_device_order() -> None:
    with fast_dir("flaky-") as scratch:
        compound = build_compound(scratch / "instance", households=60, devices=2)
        settings = Settings.from_env(compound.env)
        app = create_app(settings=settings)
        app_transport = httpx.WSGITransport(app=app)
        devices = [enroll(BASE, code, app_transport) for code in compound.enrolment_codes]

        per_device = CROSSINGS // len(devices)
        start = datetime.now(UTC) - timedelta(hours=6)
        journals = [scratch / f"journal-{n}.db" for n in range(len(devices))]
        orders: list[list[str]] = []
        for n, path in enumerate(journals):
            with Journal(path) as journal:
                # Interleaved scan times across the two devices, as at one gate.
                orders.append(
                    record_offline(
                        journal,
                        compound.texts,
                        per_device,
                        start=start + timedelta(seconds=n),
                        step_s=2.0,
                    )
                )

        networks = [
            FlakyNetwork(app_transport, random.Random(1000 + n)) for n in range(len(devices))
        ]
        rounds = [0] * len(devices)
        totals: list[Counter[str]] = [Counter() for _ in devices]
        failures: list[BaseException] = []

        def upload(n: int) -> None:
            try:
                with (
                    Journal(journals[n]) as journal,
                    ApiClient(BASE, devices[n].token, transport=networks[n]) as client,
                ):
                    uploader = Uploader(client, journal, batch_size=BATCH)
                    while journal.counts()["unsent"]:
                        rounds[n] += 1
                        assert rounds[n] < 5_000, "the uploader does not converge"
                        report = uploader.upload_pending()
                        totals[n].update(
                            sent=report.sent, duplicates=report.duplicates, dead=report.dead
                        )
                        totals[n]["failed_rounds"] += not report.ok
            except BaseException as exc:
                failures.append(exc)

        started = time.monotonic()
        threads = [threading.Thread(target=upload, args=(n,)) for n in range(len(devices))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(900)
        for network in networks:
            network.drain()  # late copies arrive after the scanners finished, too
        elapsed = time.monotonic() - started
        assert not failures, failures
        assert not any(n.late_errors for n in networks), [n.late_errors for n in networks]

        rows = server_rows(compound.database_url)
        for device, order in zip(devices, orders, strict=True):
            assert_delivered_exactly_once(rows, device.device_id, order)
        ours = {device.device_id for device in devices}
        assert len([row for row in rows if row.device_id in ours]) == CROSSINGS
        assert_chain_intact(compound.database_url, compound.gate_id)
        for path in journals:
            with Journal(path) as journal:
                assert journal.counts() == {"unsent": 0, "sent": per_device, "dead": 0}

        faults = sum((n.counts for n in networks), Counter())
        # The faults really happened, and the scanners really saw duplicates answered.
        for kind in ("dropped", "duplicated", "held", "replayed"):
            assert faults[kind] > 0, f"no request was {kind}: the test proves nothing"
        assert sum(t["duplicates"] for t in totals) > 0
        assert sum(t["sent"] for t in totals) + sum(t["duplicates"] for t in totals) >= CROSSINGS
        print(
            describe(
                crossings=CROSSINGS,
                batch=BATCH,
                seconds=round(elapsed, 1),
                rounds=rounds,
                **dict(faults),
                acked_stored=sum(t["sent"] for t in totals),
                acked_duplicate=sum(t["duplicates"] for t in totals),
            )
        )
        app_transport.close()
        app.extensions["checkpoint"].engine.dispose()
