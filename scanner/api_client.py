"""A small typed client for the gate server's scanner API (v1, JSON over HTTP).

Failures fall in two families, and callers act on the family, not the detail:

- :class:`Unreachable`: network failure, timeout, 5xx, or an answer that is not the JSON we
  expect (not JSON, or not its :mod:`passes.wire` format). The server may come back: decide
  offline now, retry the upload later.
- :class:`Refused`: a 4xx with ``{"error": {"code", "message"}}``. Permanent for that request
  (``status`` 401 with ``device_revoked``/``bad_token`` means the device must enrol again).

Bodies are built and answers read with :mod:`passes.wire`, the format the gate speaks too.
The transport is injectable (``httpx.MockTransport`` in tests), so nothing here needs a network.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from passes import WireFormatError, wire

API = "/api/v1"
BACKLOG_HEADER = "X-Checkpoint-Backlog"
MAX_BATCH = wire.MAX_BATCH
ScanAnswer = wire.ScanAnswer
"""The server's verdict for one scan."""
BatchResult = wire.ItemResult
"""The server's answer for one uploaded crossing."""


class ApiError(Exception):
    """Base of the client's errors."""


class Unreachable(ApiError):
    """No usable answer (network, timeout, 5xx, malformed body): try again later."""


class ServerError(Unreachable):
    """The server answered with a 5xx: it may be down, or this request may be what it cannot
    handle (the uploader tells the two apart)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"server error {status}")
        self.status = status


class Refused(ApiError):
    """The server refused the request for good (4xx)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def unauthorized(self) -> bool:
        """The device token is revoked or wrong: enrol again."""
        return self.status == 401


@dataclass(frozen=True)
class BundleAnswer:
    """A new bundle (``data``) with its ETag; ``data`` is None when the server said 304."""

    data: Mapping[str, Any] | None
    etag: str | None


@dataclass(frozen=True)
class PreparedBatch:
    """A batch upload ready to send (:meth:`ApiClient.prepare_batch`): the JSON body, already
    encoded, and the headers read when it was prepared (the backlog count among them)."""

    body: bytes
    headers: Mapping[str, str]


class ApiClient:
    """Client over ``httpx.Client``. ``backlog`` reports the unsent count for every request.

    :attr:`server_date` is the server's ``Date`` header of the newest answer (any status),
    with :attr:`server_date_rtt_s`, how long that request took: the sync thread estimates the
    device's clock offset from them.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        backlog: Callable[[], int] | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s
        )
        self._token = token
        self._backlog = backlog
        self.server_date: datetime | None = None
        self.server_date_rtt_s: float | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def enroll(self, code: str, name: str) -> Mapping[str, Any]:
        """Exchange a one-time code for a device token; returns the 201 body."""
        return self._json("POST", "/devices/enroll", json={"code": code, "name": name}, auth=False)

    def scan(self, scan: wire.Scan, *, deadline_s: float = 1.5) -> wire.ScanAnswer:
        """POST one scan for an online verdict; every phase is bounded by ``deadline_s``."""
        body = self._json("POST", "/scans", json=scan.to_json(), timeout=httpx.Timeout(deadline_s))
        try:
            return wire.ScanAnswer.from_json(body)
        except WireFormatError as exc:
            raise Unreachable(f"malformed scan answer: {exc}") from None

    def upload_batch(self, crossings: Sequence[wire.Crossing]) -> list[wire.ItemResult]:
        """Upload at most :data:`MAX_BATCH` offline crossings; one result per item."""
        return self.send_batch(self.prepare_batch(crossings))

    def prepare_batch(self, crossings: Sequence[wire.Crossing]) -> PreparedBatch:
        """:meth:`upload_batch`'s first half: the body encoded and the headers read, in the
        calling thread (the backlog callback may read the journal, which belongs to it)."""
        if len(crossings) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} crossings per batch")
        batch = wire.Batch(tuple(crossings))
        # As httpx encodes ``json=``: compact, UTF-8.
        body = jsonlib.dumps(
            batch.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        headers = self._headers({"Content-Type": "application/json"}, auth=True)
        return PreparedBatch(body, headers)

    def send_batch(self, prepared: PreparedBatch) -> list[wire.ItemResult]:
        """:meth:`upload_batch`'s second half: POST a prepared batch and read the answer. It
        touches nothing of the caller's but this client: another thread may run it while
        the caller prepares the next batch (one request at a time)."""
        response = self._send(
            "POST", "/crossings/batch", content=prepared.body, ready_headers=prepared.headers
        )
        body = _body(response)
        try:
            return list(wire.BatchResult.from_json(body).results)
        except WireFormatError as exc:
            raise Unreachable(f"malformed batch answer: {exc}") from None

    def fetch_bundle(self, etag: str | None = None) -> BundleAnswer:
        """GET the bundle, conditional on ``etag``."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._send("GET", "/bundle", headers=headers)
        if response.status_code == 304:
            return BundleAnswer(None, etag)
        return BundleAnswer(_body(response), response.headers.get("ETag"))

    # --- plumbing ----------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _body(self._send(method, path, **kwargs))

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ready_headers: Mapping[str, str] | None = None,
        auth: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        all_headers = ready_headers if ready_headers is not None else self._headers(headers, auth)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        if content is not None:
            extra["content"] = content
        try:
            response = self._http.request(
                method, API + path, json=json, headers=all_headers, **extra
            )
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        self._note_date(response)
        if response.status_code >= 500:
            raise ServerError(response.status_code)
        if 400 <= response.status_code < 500:
            raise _refused(response)
        return response

    def _headers(self, headers: Mapping[str, str] | None, auth: bool) -> dict[str, str]:
        all_headers = dict(headers or {})
        if auth and self._token:
            all_headers["Authorization"] = f"Bearer {self._token}"
        if self._backlog is not None:
            all_headers[BACKLOG_HEADER] = str(self._backlog())
        return all_headers

    def _note_date(self, response: httpx.Response) -> None:
        text = response.headers.get("Date")
        if not text:
            return
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return
        if moment.tzinfo is None:  # "-0000": UTC by RFC 5322
            moment = moment.replace(tzinfo=UTC)
        self.server_date = moment.astimezone(UTC)
        try:
            self.server_date_rtt_s = response.elapsed.total_seconds()
        except RuntimeError:  # a mock transport's response has no elapsed time
            self.server_date_rtt_s = 0.0


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise Unreachable(f"answer {response.status_code} is not JSON") from None
    if not isinstance(data, dict):
        raise Unreachable("answer is not a JSON object")
    return data


def _refused(response: httpx.Response) -> Refused:
    try:
        error = response.json()["error"]
        return Refused(response.status_code, str(error["code"]), str(error.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return Refused(response.status_code, f"http_{response.status_code}", response.text[:200])
