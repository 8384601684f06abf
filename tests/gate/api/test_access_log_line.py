"""deploy/gunicorn.conf.py's access logger writes the line gunicorn's own logger writes for
the deployed format (time, method, path, status, ms, bytes: no personal data), from six
atoms instead of every header and environ variable."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

CONF = Path(__file__).resolve().parents[3] / "deploy" / "gunicorn.conf.py"


def _line(logger_class: type[Logger], fmt: str, sent: int | None, took: timedelta) -> str:
    config = Config()
    config.set("access_log_format", fmt)
    logger = logger_class(config)
    logger.now = lambda: "[05/Dec/2026:08:00:00 +0000]"  # type: ignore[method-assign]
    response = SimpleNamespace(
        status="200 OK", sent=sent, headers=[("Content-Type", "application/json")]
    )
    request = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer secret")])
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/scans",
        "RAW_URI": "/api/v1/scans?token=secret",
        "QUERY_STRING": "token=secret",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
    }
    return fmt % SafeAtoms(logger.atoms(response, request, environ, took))


@pytest.mark.parametrize(
    ("sent", "took"),
    [
        (395, timedelta(microseconds=2_999)),
        (0, timedelta(seconds=2, microseconds=5)),
        (None, timedelta()),
    ],
)
def test_the_access_line_is_gunicorns_for_the_deployed_format(
    sent: int | None, took: timedelta
) -> None:
    conf = runpy.run_path(str(CONF))
    fmt, ours = conf["access_log_format"], conf["logger_class"]
    assert _line(ours, fmt, sent, took) == _line(Logger, fmt, sent, took)
    assert "secret" not in _line(ours, fmt, sent, took)
    assert "10.0.0.7" not in _line(ours, fmt, sent, took)


def test_another_format_gets_every_atom() -> None:
    ours = runpy.run_path(str(CONF))["logger_class"]
    fmt = '%(h)s "%(r)s" %(s)s %({content-type}o)s'
    took = timedelta(milliseconds=3)
    assert _line(ours, fmt, 12, took) == _line(Logger, fmt, 12, took)
