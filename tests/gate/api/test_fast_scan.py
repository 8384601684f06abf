"""The scan API's fast path (gate.api.fast_scan) answers as the Flask view does, byte for byte.

Each request goes once through the Flask app and once through :class:`FastScans` in front of
it (as ``gate.wsgi`` deploys it); status, every header and the body must be the same. A
good scan or a refusal is compared across two households in the same state (their ids and
labels swapped in); a replay and every error are the very same bytes. The fast path
answers good scans and replays itself and hands every error to Flask, which the tests check
with a spy on the Flask side. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.test import Client, EnvironBuilder, TestResponse, run_wsgi_app

import gate.api.fast_scan as fast_scan
from gate.api.fast_scan import FastScans, install
from passes import Quota, RuleSet

SCANS = "/api/v1/scans"
TWO_OUTINGS = RuleSet(version=1, quota=Quota(exits=2, length=3), max_out_at_once=99)


class Paths:
    """The same app reached through Flask alone and through the fast path in front of it."""

    def __init__(self, compound: Compound) -> None:
        self.compound = compound
        self.to_flask: list[str] = []
        flask_app = compound.app.wsgi_app

        def spied(environ: dict[str, Any], start_response: Any) -> Any:
            self.to_flask.append(environ["PATH_INFO"])
            return flask_app(environ, start_response)

        self.flask = compound.app.test_client()
        self.fast = Client(FastScans(compound.app, spied), response_wrapper=TestResponse)

    def post(self, client: Client, body: object, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("headers", self.compound.headers())
        if isinstance(body, bytes):
            return client.post(SCANS, data=body, **kwargs)
        return client.post(SCANS, json=body, **kwargs)

    def both(self, body: object, **kwargs: Any) -> tuple[TestResponse, TestResponse]:
        """The answers of Flask and of the fast path to the same request."""
        return self.post(self.flask, body, **kwargs), self.post(self.fast, body, **kwargs)


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=4)  # one outing in three days
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture
def paths(compound: Compound) -> Paths:
    return Paths(compound)


def _wire(response: TestResponse) -> tuple[str, list[tuple[str, str]], bytes]:
    return response.status, list(response.headers.items()), response.get_data()


def _as_other(response: TestResponse, other: TestResponse) -> bytes:
    """``response``'s body with the id, crossing id and label of ``other``'s answer."""
    body = response.get_data()
    mine, theirs = json.loads(body), json.loads(other.get_data())
    for key in ("id", "crossing_id", "household_label"):
        old = f'"{key}":{json.dumps(mine[key])}'
        new = f'"{key}":{json.dumps(theirs[key])}'
        assert body.count(old.encode()) == 1, (key, body)
        body = body.replace(old.encode(), new.encode())
    return body


def _same_but_ids(fast: TestResponse, flask: TestResponse) -> None:
    assert fast.status == flask.status == "200 OK"
    assert list(fast.headers.items()) == list(flask.headers.items())
    assert _as_other(fast, flask) == flask.get_data()


def test_a_good_scan_and_a_refusal_answer_the_same_bytes_on_both_paths(
    paths: Paths, compound: Compound
) -> None:
    one, two = compound.residents[0].pass_text, compound.residents[1].pass_text
    clock = compound.clock
    fast = paths.post(paths.fast, scan_body(one, "out", scanned_at=clock()))
    flask = paths.post(paths.flask, scan_body(two, "out", scanned_at=clock()))
    assert fast.get_json()["verdict"]["allowed"] is True
    _same_but_ids(fast, flask)
    fast = paths.post(paths.fast, scan_body(one, "out", scanned_at=clock()))
    flask = paths.post(paths.flask, scan_body(two, "out", scanned_at=clock()))
    assert fast.get_json()["verdict"]["code"] == "already_out"
    _same_but_ids(fast, flask)
    clock.advance(hours=1)
    for card in (one, two):  # back in: the outing is used
        paths.post(paths.fast, scan_body(card, "in", scanned_at=clock()))
    fast = paths.post(paths.fast, scan_body(one, "out", scanned_at=clock()))
    flask = paths.post(paths.flask, scan_body(two, "out", scanned_at=clock()))
    assert fast.get_json()["verdict"]["code"] == "quota"
    assert fast.get_json()["next_exit_at"] is not None
    _same_but_ids(fast, flask)
    assert paths.to_flask == []
    assert assert_chain_intact(compound) == 8


def test_a_replay_is_the_same_bytes_on_both_paths(paths: Paths, compound: Compound) -> None:
    card = compound.residents[2].pass_text
    first = scan_body(card, "out", 366, scanned_at=compound.clock())
    stored = paths.post(paths.fast, first)
    flask, fast = paths.both(first)
    assert _wire(fast) == _wire(flask)
    assert fast.get_json()["replay"] is True
    assert {**fast.get_json(), "replay": False} == stored.get_json()
    by_flask = scan_body(card, "in", scanned_at=compound.clock())
    paths.post(paths.flask, by_flask)
    flask, fast = paths.both(by_flask)
    assert _wire(fast) == _wire(flask)
    assert paths.to_flask == []
    assert compound.crossing_count() == 2


def _errors(compound: Compound) -> list[tuple[str, object, dict[str, Any]]]:
    card = compound.residents[3].pass_text
    good = scan_body(card, "out", scanned_at=compound.clock())
    bearer = compound.headers()
    return [
        ("no token", good, {"headers": {}}),
        ("unknown token", good, {"headers": {"Authorization": "Bearer nope"}}),
        ("not bearer", good, {"headers": {"Authorization": "Basic eDp5"}}),
        ("not JSON", b"{", {"headers": bearer, "content_type": "application/json"}),
        ("JSON null", b"null", {"headers": bearer, "content_type": "application/json"}),
        ("a list", b"[]", {"headers": bearer, "content_type": "application/json"}),
        ("nested", b"[" * 100_000, {"headers": bearer, "content_type": "application/json"}),
        ("text/plain", json.dumps(good).encode(), {"headers": bearer}),
        ("bad direction", {**good, "direction": "sideways"}, {}),
        ("bad id", {**good, "id": "x"}, {}),
        ("no pass", {k: v for k, v in good.items() if k != "pass"}, {}),
        ("clock far off", {**good, "scanned_at": "2020-01-01T00:00:00Z"}, {}),
        ("large body", {**good, "padding": "x" * 70_000}, {"headers": {}}),
        (
            "bad backlog",
            {**good, "direction": 7},
            {"headers": {**bearer, "X-Checkpoint-Backlog": "²"}},
        ),
    ]


def test_every_error_is_flasks_answer_byte_for_byte(paths: Paths, compound: Compound) -> None:
    for name, body, kwargs in _errors(compound):
        paths.to_flask.clear()
        flask, fast = paths.both(body, **kwargs)
        assert flask.status_code >= 400, (name, flask.get_data())
        assert _wire(fast) == _wire(flask), name
        assert paths.to_flask == [SCANS], name
    assert compound.crossing_count() == 0


def test_an_id_reused_for_another_request_is_flasks_409_and_its_event(
    paths: Paths, compound: Compound
) -> None:
    first = scan_body(compound.residents[0].pass_text, "out", scanned_at=compound.clock())
    paths.post(paths.fast, first)
    reused = {**first, "pass": compound.residents[1].pass_text}
    flask, fast = paths.both(reused)
    assert flask.status_code == 409
    assert _wire(fast) == _wire(flask)
    assert compound.crossing_count() == 1


def test_other_methods_and_paths_are_flasks(paths: Paths, compound: Compound) -> None:
    for method, path in (("GET", SCANS), ("PUT", SCANS), ("POST", SCANS + "/")):
        flask = paths.flask.open(path, method=method, headers=compound.headers())
        fast = paths.fast.open(path, method=method, headers=compound.headers())
        assert _wire(fast) == _wire(flask), (method, path)
    assert paths.to_flask == [SCANS, SCANS, SCANS + "/"]


def test_a_charset_or_a_chunked_body_is_left_to_flask(paths: Paths, compound: Compound) -> None:
    card = compound.residents[0].pass_text
    body = json.dumps(scan_body(card, "out", scanned_at=compound.clock())).encode()
    answer = paths.fast.post(
        SCANS,
        data=body,
        headers=compound.headers(),
        content_type="application/json; charset=utf-8",
    )
    assert answer.status_code == 200
    assert paths.to_flask == [SCANS]


def test_a_lost_race_for_the_client_id_is_run_again_on_the_fast_path(
    paths: Paths, compound: Compound, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fast_scan.record_online
    calls: list[str] = []

    def lose_once(*args: Any, **kwargs: Any) -> Any:
        calls.append("run")
        if len(calls) == 1:
            raise IntegrityError("INSERT", {}, Exception("duplicate client id"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fast_scan, "record_online", lose_once)
    body = scan_body(compound.residents[0].pass_text, "out", scanned_at=compound.clock())
    answer = paths.post(paths.fast, body)
    assert answer.status_code == 200
    assert answer.get_json()["verdict"]["allowed"] is True
    assert (calls, paths.to_flask, compound.crossing_count()) == (["run", "run"], [], 1)


def test_a_failure_the_retry_does_not_cure_is_left_to_flask(
    paths: Paths, compound: Compound, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(fast_scan, "record_online", broken)
    body = scan_body(compound.residents[0].pass_text, "out", scanned_at=compound.clock())
    answer = paths.post(paths.fast, body)
    assert answer.status_code == 200  # Flask's own run, not the patched one
    assert paths.to_flask == [SCANS]
    assert compound.crossing_count() == 1


def test_sixteen_scanners_racing_through_the_fast_path_get_one_outing(
    committed_engine: Engine, db_url: str, tmp_path: Path
) -> None:
    compound = build_compound(db_url, tmp_path, households=1, rules=TWO_OUTINGS, extra_devices=15)
    try:
        install(compound.app)
        card = compound.residents[0].pass_text
        client = compound.client()
        for direction in ("out", "in"):  # one of the two outings used
            client.post(
                SCANS,
                json=scan_body(card, direction, scanned_at=compound.clock()),
                headers=compound.headers(),
            )
        tokens = [compound.token, *compound.extra_tokens]
        barrier = threading.Barrier(len(tokens), timeout=60)
        verdicts: list[tuple[bool, str | None]] = []

        def scan(token: str) -> None:
            body = scan_body(card, "out", scanned_at=compound.clock(), client_id=str(uuid.uuid4()))
            mine = compound.client()
            barrier.wait()
            answer = mine.post(SCANS, json=body, headers=compound.headers(token))
            verdict = answer.get_json()["verdict"]
            verdicts.append((verdict["allowed"], verdict["code"]))

        threads = [threading.Thread(target=scan, args=(token,)) for token in tokens]
        for each in threads:
            each.start()
        for each in threads:
            each.join()
        assert sorted(verdicts, key=str).count((True, None)) == 1, verdicts
        assert len(verdicts) == len(tokens)
        assert assert_chain_intact(compound) == 2 + 1 + 15
    finally:
        compound.dispose()


class _Dropped(io.RawIOBase):
    """A request body whose client went away: every read fails."""

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: Any) -> int:
        raise OSError("client went away")


def test_a_body_that_fails_to_arrive_meets_flasks_handling(
    paths: Paths, compound: Compound
) -> None:
    def post(app: Any) -> tuple[str, list[tuple[str, str]], bytes]:
        builder = EnvironBuilder(path=SCANS, method="POST", data=b"{}", headers=compound.headers())
        builder.content_type = "application/json"
        environ = builder.get_environ()
        environ["CONTENT_LENGTH"] = "300"
        environ["wsgi.input"] = _Dropped()
        body, status, headers = run_wsgi_app(app, environ, buffered=True)
        return status, list(headers.items()), b"".join(body)

    flask = post(compound.app)
    fast = post(paths.fast.application)
    assert flask[0] == "400 BAD REQUEST"  # werkzeug: the client disconnected
    assert fast == flask
    assert paths.to_flask == [SCANS]


def test_the_deployed_app_puts_the_fast_path_in_front(tmp_path: Path) -> None:
    """``gunicorn gate.wsgi:app`` (deploy/) serves scans through :class:`FastScans`."""
    env = {
        **os.environ,
        "CHECKPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'gate.sqlite3'}",
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    probe = "import gate.wsgi as w; print(type(w.app.wsgi_app).__name__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["FastScans"]
