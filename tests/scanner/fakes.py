"""Test doubles for the scanner: a community with signed passes, clocks, frames, a display,
a thermometer, and a gate server stub usable as an httpx.MockTransport or a loopback server."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np

from passes import (
    CardState,
    HouseholdState,
    KeySet,
    Pass,
    RuleSet,
    SigningKey,
    card_for,
    decide,
    new_pass_id,
    parse_pass,
    sign_supervisor_card,
    wire,
)
from scanner.display import Screen
from scanner.frames import Frame
from scanner.inputs import Key
from scanner.thermometer import NoReading, Reading, ReadingOk

COMMUNITY_ID = 7
NOW = datetime(2024, 3, 22, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@dataclass
class Community:
    """A signing key, households 1..n each with one pass, and the bundle JSON for them."""

    households: int = 3
    rules: RuleSet = field(default_factory=RuleSet)
    now: datetime = NOW
    key: SigningKey = field(default_factory=lambda: SigningKey.generate(1))
    passes: dict[int, str] = field(default_factory=dict)
    revoked: list[bytes] = field(default_factory=list)
    cards: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        for household_id in range(1, self.households + 1):
            self.passes[household_id] = self.issue(household_id)

    def issue(self, household_id: int) -> str:
        return self.key.sign(
            Pass(
                key_id=1,
                pass_id=new_pass_id(),
                household_id=household_id,
                community_id=COMMUNITY_ID,
                generation=1,
                issued_at=self.now - timedelta(days=30),
                valid_until=self.now + timedelta(days=365),
            )
        )

    def supervisor_card(self, account_id: int = 42) -> str:
        """A signed supervisor card, listed in the bundles made from now on."""
        card_id = uuid.uuid4().bytes[:12]
        self.cards.append(card_id)
        fields = card_for(
            key_id=1,
            card_id=card_id,
            account_id=account_id,
            community_id=COMMUNITY_ID,
            issued_at=self.now - timedelta(days=1),
            valid_for=timedelta(days=90),
        )
        return sign_supervisor_card(self.key, fields)

    def bundle(
        self, *, generated_at: datetime | None = None, content_hash: str = "b1"
    ) -> dict[str, Any]:
        """The bundle JSON (``checkpoint.bundle.v1``) the gate would send."""
        return wire.Bundle(
            content_hash=content_hash,
            generated_at=generated_at or self.now,
            community=wire.Community(COMMUNITY_ID, "Test", "Asia/Shanghai"),
            rules=self.rules,
            keys=KeySet((self.key.entry,)),
            revoked_pass_ids=tuple(self.revoked),
            households=tuple(HouseholdState(household_id) for household_id in self.passes),
            supervisor_cards=tuple(
                CardState(card_id, 42, self.now + timedelta(days=89)) for card_id in self.cards
            )
            or None,
        ).to_json()


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock:
    """UTC wall time tied to a FakeClock (or standalone)."""

    def __init__(self, start: datetime = NOW, mono: FakeClock | None = None) -> None:
        self.start = start
        self.mono = mono
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        moved = timedelta(seconds=self.mono.now - 1000.0) if self.mono else timedelta(0)
        return self.start + moved + self.offset


class FakeDecoder:
    """Decodes frames made by :meth:`frame` back to their text (None: a frame with no code)."""

    @dataclass(frozen=True)
    class Result:
        texts: tuple[str, ...]

    def __init__(self) -> None:
        self._texts: dict[int, str | None] = {}
        self._keep: list[np.ndarray[Any, Any]] = []
        self.calls = 0

    def frame(self, text: str | None, at: float) -> Frame:
        image = np.zeros((4, 4, 3), np.uint8)
        self._keep.append(image)
        self._texts[id(image)] = text
        return Frame(image, at)

    def decode(self, image: Any) -> FakeDecoder.Result:
        self.calls += 1
        text = self._texts.get(id(image))
        return FakeDecoder.Result(() if text is None else (text,))


def held(
    decoder: FakeDecoder, clock: FakeClock, text: str | None, seconds: float, fps: float = 10
) -> Iterator[Frame]:
    """Frames showing ``text`` for ``seconds``, advancing ``clock`` as they are consumed."""
    for _ in range(round(seconds * fps)):
        yield decoder.frame(text, clock.now)
        clock.advance(1 / fps)


class FakeThermometer:
    """Returns ``tenths`` (or NoReading for None) at every read."""

    def __init__(self, tenths: int | None = 365, clock: FakeClock | None = None) -> None:
        self.tenths = tenths
        self.clock = clock
        self.reads = 0

    def read(self, timeout_s: float) -> Reading:
        self.reads += 1
        if self.tenths is None and self.clock is not None:
            self.clock.advance(timeout_s)  # waited in vain
        return NoReading() if self.tenths is None else ReadingOk(self.tenths, 0.0)

    def close(self) -> None:
        pass


class RecordingDisplay:
    """Keeps every screen shown. ``keys``: key names typed, each 0.3 s after the previous one
    (a person), handed out by poll_key in order once ``clock`` (when given) reaches them;
    `type_fast` queues a wedge burst. ``wait`` moves ``clock`` by the time waited."""

    def __init__(self, keys: list[str] | None = None, clock: FakeClock | None = None) -> None:
        self.screens: list[Screen] = []
        self.clock = clock
        self.keys: list[Key] = []
        self.closed = False
        self.keyboard = True
        self.type_slowly(keys or [])

    def _at(self) -> float:
        last = self.keys[-1].at if self.keys else (self.clock.now if self.clock else 0.0)
        return last

    def type_slowly(self, names: list[str]) -> None:
        for name in names:
            self.keys.append(Key(name, self._at() + 0.3))

    def type_fast(self, text: str) -> None:
        """A wedge scanner: 5 ms per key, then Enter."""
        start = self._at() + 0.3
        for i, char in enumerate([*text, "enter"]):
            self.keys.append(Key(char, start + i * 0.005))

    @property
    def verdicts(self) -> list[Screen]:
        return [s for s in self.screens if s.kind not in ("idle", "prompt")]

    def show(self, screen: Screen) -> None:
        self.screens.append(screen)

    def poll_key(self) -> Key | None:
        """The next key once the clock (if any) has reached the moment it was typed."""
        if not self.keys or (self.clock is not None and self.keys[0].at > self.clock.now):
            return None
        return self.keys.pop(0)

    def wait(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(max(seconds, 0.01))

    def close(self) -> None:
        pass


class ServerStub:
    """The gate server's scanner API, in memory and idempotent on the client UUID.

    ``mode``: ``up``, ``down`` (connection refused), ``slow`` (sleeps ``delay_s``), ``error``
    (500). ``fail_after_commit`` makes the next batch store its items and then answer 500, as
    if the connection broke before the acknowledgement. ``reject`` holds ids to refuse.
    """

    TOKEN = "tok-123"

    def __init__(self, community: Community) -> None:
        self.community = community
        self.mode = "up"
        self.delay_s = 3.0
        self.fail_after_commit = False
        self.reject: set[str] = set()
        self.stored: dict[str, dict[str, Any]] = {}
        self.store_counts: Counter[str] = Counter()
        self.batches: list[list[str]] = []
        self.scans: list[dict[str, Any]] = []
        self.states = {h: HouseholdState(h) for h in community.passes}
        self.bundle_etag = '"b1"'
        self.lock = threading.Lock()
        self.backlog_headers: list[str | None] = []

    # transport adapters ------------------------------------------------------------------

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "slow":
            time.sleep(self.delay_s)
        if self.mode == "error":
            return httpx.Response(500, json={"error": {"code": "boom", "message": "down"}})
        body = json.loads(request.content) if request.content else None
        status, headers, payload = self.answer(
            request.method, request.url.path, dict(request.headers), body
        )
        return httpx.Response(status, headers=headers, json=payload)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.backlog_headers.append(headers.get("x-checkpoint-backlog"))
            if path == "/api/v1/devices/enroll":
                return self._enroll(body)
            if headers.get("authorization") != f"Bearer {self.TOKEN}":
                return 401, {}, {"error": {"code": "bad_token", "message": "no"}}
            if path == "/api/v1/bundle":
                if headers.get("if-none-match") == self.bundle_etag:
                    return 304, {}, None
                return 200, {"ETag": self.bundle_etag}, self.community.bundle()
            if path == "/api/v1/crossings/batch":
                return self._batch(body)
            if path == "/api/v1/scans":
                return self._scan(body)
            return 404, {}, {"error": {"code": "not_found", "message": path}}

    def _enroll(self, body: Any) -> tuple[int, dict[str, str], Any]:
        if body.get("code") != "GOOD-CODE":
            return 400, {}, {"error": {"code": "bad_code", "message": "unknown code"}}
        return (
            201,
            {},
            {
                "device_id": 5,
                "token": self.TOKEN,
                "gate": {"id": 1, "code": "G1", "name": "North gate"},
                "community": {"id": COMMUNITY_ID, "name": "Test", "timezone": "Asia/Shanghai"},
            },
        )

    def _batch(self, body: Any) -> tuple[int, dict[str, str], Any]:
        batch = wire.Batch.from_json(body)  # the scanner must send the format exactly
        ids = [item.scan.id for item in batch.crossings]
        self.batches.append(ids)
        results = []
        for item, raw in zip(batch.crossings, body["crossings"], strict=True):
            client_id = item.scan.id
            if client_id in self.reject:
                error = wire.ItemError("bad_pass", "not ours")
                results.append(wire.ItemResult(client_id, "rejected", None, False, None, error))
                continue
            status: wire.ItemStatus = "duplicate" if client_id in self.stored else "stored"
            if status == "stored":
                self.stored[client_id] = raw
                self.store_counts[client_id] += 1
            results.append(wire.ItemResult(client_id, status, len(self.stored), False, None, None))
        if self.fail_after_commit:
            self.fail_after_commit = False
            return 500, {}, {"error": {"code": "boom", "message": "lost the answer"}}
        return 200, {}, wire.BatchResult(tuple(results)).to_json()

    def _scan(self, body: Any) -> tuple[int, dict[str, str], Any]:
        self.scans.append(body)
        scan = wire.Scan.from_json(body)  # the scanner must send the format exactly
        c = self.community
        household_id = parse_pass(scan.pass_text).fields.household_id
        verdict = decide(
            scan.pass_text,
            keys=KeySet((c.key.entry,)),
            community_id=COMMUNITY_ID,
            household=self.states.get(household_id),
            revoked_pass_ids=set(c.revoked),
            rules=c.rules,
            direction=scan.direction,
            temperature=scan.temperature,
            now=scan.scanned_at,
        )
        if verdict.state_after is not None:
            self.states[household_id] = verdict.state_after
        if scan.id not in self.stored:
            self.stored[scan.id] = body
            self.store_counts[scan.id] += 1
        answer = wire.ScanAnswer(
            id=scan.id,
            crossing_id=len(self.stored),
            replay=False,
            verdict=wire.Verdict(
                allowed=verdict.allowed,
                display=verdict.display,
                code=verdict.code,
                codes=tuple(verdict.codes),
                notes=tuple(verdict.notes),
                reason_zh=verdict.reason("zh"),
                reason_en=verdict.reason("en"),
                next_exit_at=verdict.next_exit_at,
                rule_version=verdict.rule_version,
            ),
            household_label=f"3-2-40{household_id} 张*",
            next_exit_at=verdict.next_exit_at,
        )
        return 200, {}, answer.to_json()

    # loopback HTTP server ----------------------------------------------------------------

    def serve(self) -> tuple[str, ThreadingHTTPServer]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = stub.answer(self.command, self.path, headers, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}", server
