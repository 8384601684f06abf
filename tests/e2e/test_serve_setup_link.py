"""``checkpoint serve`` on a database without any account prints the one-time setup link (the
first run in the browser), plain and with ``--tls``; the link opens the setup page. Once an
account exists, serve prints no link and the old one is gone (410)."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "faults"))
from compound import ServerProcess
from tls_server import tls_server

BIN = Path(sys.executable).parent
LINK = re.compile(r"^ {4}(https?://\S+/setup/[A-Za-z0-9_-]{20,})$", re.MULTILINE)
PASSWORD = "correct-horse-battery"


def _env(directory: Path) -> dict[str, str]:
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(directory),
        "CHECKPOINT_ENV": "development",
        "CHECKPOINT_INSTANCE_DIR": str(directory),
    }


def _checkpoint(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "checkpoint"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"checkpoint {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _status(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_serve_prints_the_setup_link_while_no_account_exists(tmp_path: Path) -> None:
    env = _env(tmp_path)
    _checkpoint(env, "db", "upgrade")
    server = ServerProcess(env, tmp_path / "first.log")
    server.start()
    try:
        output = (tmp_path / "first.log").read_text()
        links = LINK.findall(output)
        assert len(links) == 1, output
        assert links[0].startswith(f"{server.url}/setup/"), output
        assert "一次性设置链接" in output
        status, html = _status(links[0])
        assert status == 200
        assert "首次设置" in html
    finally:
        server.stop()

    _checkpoint(env, "community", "create", "--name", "幸福里社区", "--code", "xfl")
    _checkpoint(
        env, "users", "create-admin", "--username", "admin", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    again = ServerProcess(env, tmp_path / "again.log")
    again.start()
    try:
        output = (tmp_path / "again.log").read_text()
        assert "/setup/" not in output, output
        assert "一次性设置链接" not in output
        assert _status(links[0].replace(server.url, again.url))[0] == 410
    finally:
        again.stop()


def test_serve_tls_prints_an_https_setup_link(tmp_path: Path) -> None:
    _checkpoint(_env(tmp_path), "db", "upgrade")
    with tls_server(tmp_path, host="127.0.0.1") as server:
        output = server.log.read_text()
        links = LINK.findall(output)
        assert len(links) == 1, output
        assert links[0].startswith(f"{server.url}/setup/"), output
        status, html = _status(links[0], context=server.ssl_context())
    assert status == 200
    assert "首次设置" in html
