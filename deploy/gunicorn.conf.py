"""Gunicorn settings for the gate server behind nginx.

    gunicorn -c deploy/gunicorn.conf.py gate.wsgi:app

This file configures the HTTP server process, not the app: the app reads its own settings
(``CHECKPOINT_*``) in ``gate/settings.py``. The ``GUNICORN_*`` variables below tune this file
and are documented in ``deploy/checkpoint.env.example``. Command-line options win over it.

Sizing: every worker has its own SQLAlchemy engine and PostgreSQL pool (``preload_app`` is
off, so no connection is ever shared across a fork). One worker holds up to 5 + 10 pooled
connections, so keep ``workers x app servers x 15`` below PostgreSQL's ``max_connections``
(or put PgBouncer in between). On SQLite (one compound; also when CHECKPOINT_DATABASE_URL is
unset) the default is two workers: the writes are serialised whatever the worker count
(writers take turns: gate.db.SQLiteWriters), and the office's exports and import previews
hold their worker's GIL, so the scans in the other worker do not wait behind them. More
workers only add handoffs between processes and CPU (bench/sqlite_office.py, 2 cores shared,
load 4, 100 scans/s with a clerk looping over log pages, exports and import previews: scan
p95 23-28 ms with 2 workers, 48-69 ms with 1; peak 236-255 scans/s at 4.1-4.3 ms of CPU a
scan with 2, 334-343 at 3.1-3.3 ms with 1, 155 with 4 under heavier load).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

MAX_DEFAULT_WORKERS = 12


def _int_env(name: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SystemExit(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _on_sqlite() -> bool:
    """The app serves SQLite (CHECKPOINT_DATABASE_URL unset or sqlite://...)."""
    url = os.environ.get("CHECKPOINT_DATABASE_URL", "").strip()
    return not url or url.startswith("sqlite")


def _default_workers() -> int:
    """One worker per core (at least 2, at most 12). Each has 4 threads for the waits on the
    database, so the classic "2 x cores + 1" of sync workers only adds processes that take
    turns on the same cores: bench/scan_api.py on 2 cores, quiet, PostgreSQL: 2 workers
    659 scans/s at 2.85 ms of machine CPU a scan, 4 workers 429/s at 4.52 ms."""
    if _on_sqlite():
        return 2  # see the module docstring
    return min(max(2, multiprocessing.cpu_count()), MAX_DEFAULT_WORKERS)


SQLITE_SWITCH_INTERVAL_S = 0.0005


def post_fork(server: Any, worker: Any) -> None:
    """On SQLite a worker also runs the office's exports and import previews: a thread
    busy in Python keeps the GIL for the interpreter's switch interval (5 ms) each time a scan
    thread wants it back, and a scan wants it back after each query, fsync and socket read, so
    it took 12-17 ms instead of 1.8 beside such a thread (and held the write turn meanwhile).
    At 0.5 ms: 4.6-8.3 ms (median of 150 scans through the app, 3 rounds, loaded 2 cores)."""
    if _on_sqlite():
        sys.setswitchinterval(SQLITE_SWITCH_INTERVAL_S)


# --- sockets ------------------------------------------------------------------------------
# Loopback only: nginx on the same host is the one client. In a container set
# GUNICORN_BIND=0.0.0.0:8000 and publish the port to the proxy's network only.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
backlog = 2048

# --- workers ------------------------------------------------------------------------------
workers = _int_env("GUNICORN_WORKERS", _default_workers(), high=256)
# Threads: a scan request mostly waits on the database; a few threads per worker keep the
# gate under its 1 s deadline while another request holds a row lock.
worker_class = "gthread"
threads = _int_env("GUNICORN_THREADS", 4, high=64)
# Each worker builds its own app, engine and pool after the fork.
preload_app = False
# Recycle workers now and then, jittered so they do not all restart at once.
max_requests = _int_env("GUNICORN_MAX_REQUESTS", 5000, low=0, high=10_000_000)
max_requests_jitter = max_requests // 10
# Heartbeat files in RAM: /tmp may be private or slow (systemd PrivateTmp, containers).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# --- timeouts -----------------------------------------------------------------------------
# A scanner gives up after ~1 s and decides offline; 30 s only bounds exports and imports.
timeout = _int_env("GUNICORN_TIMEOUT", 30, high=3600)
# On SIGTERM (deploy, systemctl stop) finish requests in flight: a scan in flight must commit.
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 30, high=3600)
# nginx keeps upstream connections alive (keepalive in the upstream block): stay a bit longer.
keepalive = 5

# --- behind nginx -------------------------------------------------------------------------
# Trust X-Forwarded-Proto only from nginx on loopback. (The client address itself is taken
# from X-Forwarded-For by ProxyFix, one hop, with CHECKPOINT_PROXY_COUNT=1: gate/app.py.)
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
proxy_allow_ips = forwarded_allow_ips

# --- logging ------------------------------------------------------------------------------
# To stdout/stderr: journald (systemd) or the container runtime collects them.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# No personal data: no client address, no user agent, no referrer and no query string (a
# resident's link token travels in the query). %(U)s is the path without the query string.
# Fields: time, method, path, status, duration in ms, response bytes.
ACCESS_LOG_FORMAT = "%(t)s %(m)s %(U)s %(s)s %(M)sms %(b)s"
access_log_format = ACCESS_LOG_FORMAT


class AccessLogger(Logger):
    """gunicorn's logger, whose access line is built from the six atoms of ACCESS_LOG_FORMAT
    instead of all of them: gunicorn's own ``atoms`` copies every request header, response
    header and environ variable into a dict for each line: 30 -> 7 us a line, about 1.5% of
    a scan's server CPU. Another format (``--access-logformat``) gets them all."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: timedelta) -> dict[str, Any]:
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            return dict(super().atoms(resp, req, environ, request_time))
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {  # as gunicorn.glogging.Logger.atoms computes each
            "t": self.now(),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000),
            "b": str(sent) if sent is not None else "-",
        }


logger_class = AccessLogger
proc_name = "checkpoint-gate"
# gunicorn >= 27 opens a control socket under $HOME; the service user has no writable home
# (ProtectSystem=strict) and nothing uses it. Older versions ignore the unknown name.
control_socket_disable = True

# --- limits -------------------------------------------------------------------------------
limit_request_line = 8190
limit_request_fields = 100
