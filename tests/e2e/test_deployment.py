"""The deployment, end to end, against a real PostgreSQL and gunicorn.

deploy/postgres-setup.sh creates a fresh role and database and migrates it; a small demo
compound is seeded; gunicorn serves it with deploy/gunicorn.conf.py; a scanner enrols, scans
rendered pass PNGs online and offline and syncs; the crossings are in the database. Then
deploy/backup.sh, the database is dropped, deploy/restore.sh brings it back and the crossing
log still verifies.

Skipped (with the reason shown) when PostgreSQL, its client tools or gunicorn are missing,
unless CHECKPOINT_REQUIRE_POSTGRES=1, which makes that a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import URL

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
REQUIRE_ENV = "CHECKPOINT_REQUIRE_POSTGRES"
TOOLS = ("psql", "pg_dump", "pg_restore")


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason)


def _run(
    args: list[str | Path], env: Mapping[str, str], *, timeout: float = 30, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
            pytrace=False,
        )
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Deployment:
    """A fresh database with its own role on the test server, and where things live."""

    name: str
    password: str
    admin_url: URL
    tmp: Path

    @property
    def url(self) -> str:
        return self.admin_url.set(
            username=self.name, password=self.password, database=self.name
        ).render_as_string(hide_password=False)

    @property
    def keys_dir(self) -> Path:
        return self.tmp / "instance" / "keys"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPOINT_", "PG"))}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            CHECKPOINT_ENV="production",
            CHECKPOINT_SECRET_KEY=secrets.token_urlsafe(48),
            CHECKPOINT_INSTANCE_DIR=str(self.tmp / "instance"),
            CHECKPOINT_KEYS_DIR=str(self.keys_dir),
            CHECKPOINT_DATABASE_URL=self.url,
            CHECKPOINT_SCANNER_DATA=str(self.tmp / "scanner"),
        )
        if self.admin_url.password:
            # The admin steps of the scripts use libpq's password file, never the app's.
            passfile = self.tmp / "pgpass"
            passfile.write_text(f"*:*:*:{self.admin_url.username}:{self.admin_url.password}\n")
            passfile.chmod(0o600)
            env["PGPASSFILE"] = str(passfile)
        return env

    def server_args(self) -> list[str | Path]:
        return [
            "--host",
            self.admin_url.host or "127.0.0.1",
            "--port",
            str(self.admin_url.port or 5432),
            "--admin-user",
            self.admin_url.username or "postgres",
        ]


@pytest.fixture
def deployment(postgres_server: object, tmp_path: Path) -> Iterator[Deployment]:
    """A database and role name nobody uses; both dropped afterwards whatever happened."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            _unavailable(f"{tool} not installed (apt-get install postgresql-client)")
    if not (BIN / "gunicorn").exists():
        _unavailable(f"gunicorn not installed in {BIN}")
    admin_url: URL = postgres_server.admin_url  # type: ignore[attr-defined]
    name = f"checkpoint_e2e_{secrets.token_hex(5)}"
    deployment = Deployment(name, f"pw:{secrets.token_urlsafe(12)}/@", admin_url, tmp_path)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        yield deployment
    finally:
        try:
            _drop(admin, name)
        finally:
            admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        drills = connection.scalars(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'checkpoint_drill_%'")
        ).all()
        owned = set(
            connection.scalars(
                text(
                    "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                    "WHERE r.rolname = :name"
                ),
                {"name": name},
            ).all()
        )
        for database in {name, *(d for d in drills if d in owned)}:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))


@dataclass(frozen=True)
class Seeded:
    enrolment_code: str
    online_texts: list[str]
    offline_texts: list[str]


def _seed(deployment: Deployment) -> Seeded:
    """A 20-household demo compound, its enrolment code and five households' pass texts."""
    import gate.models  # noqa: F401  (all mappers)
    from gate.crossings.models import Crossing
    from gate.db import make_engine, session_factory, transaction
    from gate.demo import build_demo
    from gate.households.models import Household
    from gate.issuing.operations import current_pass, pass_text
    from passes import HouseholdStatus

    engine = make_engine(deployment.url)
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            summary = build_demo(
                session,
                keys_dir=deployment.keys_dir,
                now=datetime.now(UTC),
                households=20,
                days=1,
            )
        with transaction(sessions, read_only=True) as session:
            crossed = set(session.scalars(select(Crossing.household_id).distinct()))
            fresh: list[str] = []
            others: list[str] = []
            for household in session.scalars(select(Household).order_by(Household.id)):
                record = current_pass(session, household)
                if household.status is HouseholdStatus.QUARANTINED or record is None:
                    continue
                text_ = pass_text(session, record)
                (others if household.id in crossed else fresh).append(text_)
    finally:
        engine.dispose()
    # Refusals (quota, already out) are recorded crossings too; fresh households first.
    texts = fresh + others
    assert len(texts) >= 5
    return Seeded(summary.enrolment_code, texts[:3], texts[3:5])


def _render(texts: list[str], directory: Path) -> Path:
    from passes import render_png

    directory.mkdir()
    for index, pass_text in enumerate(texts):
        (directory / f"pass-{index}.png").write_bytes(render_png(pass_text))
    return directory


class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py on a free loopback port."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [BIN / "gunicorn", "-c", DEPLOY / "gunicorn.conf.py", "gate.wsgi:app"],
            env={**env, "GUNICORN_WORKERS": "2", "GUNICORN_BIND": f"127.0.0.1:{self.port}"},
            cwd=REPO,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/bundle", timeout=1)
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # the app answered, and looked the (missing) token up
                    return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"gunicorn not ready after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


def _verdicts(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _crossing_counts(url: str) -> tuple[int, int]:
    """(crossings by the enrolled scanner, of which offline)."""
    from gate.crossings.models import Crossing
    from gate.db import make_engine
    from gate.devices.models import Device

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            device_ids = select(Device.id).where(Device.token_hash.is_not(None))
            mine = select(func.count()).where(Crossing.device_id.in_(device_ids))
            total = connection.scalar(mine.select_from(Crossing))
            offline = connection.scalar(mine.select_from(Crossing).where(Crossing.offline))
    finally:
        engine.dispose()
    return int(total or 0), int(offline or 0)


def _audit_available(env: Mapping[str, str]) -> bool:
    result = _run([BIN / "checkpoint", "audit", "verify", "--help"], env, check=False)
    return result.returncode == 0


def _verify_chains_directly(url: str) -> int:
    """Every gate's chain verifies (``checkpoint audit verify`` does this once it exists)."""
    from gate.crossings.chain import ChainHead, verify_chain
    from gate.crossings.models import Crossing
    from gate.db import make_engine, session_factory, transaction

    engine = make_engine(url)
    verified = 0
    try:
        with transaction(session_factory(engine), read_only=True) as session:
            gate_ids = session.scalars(select(Crossing.gate_id).distinct()).all()
            for gate_id in gate_ids:
                rows = session.scalars(
                    select(Crossing).where(Crossing.gate_id == gate_id).order_by(Crossing.gate_seq)
                )
                head = verify_chain(gate_id, rows)
                assert isinstance(head, ChainHead), head
                verified += head.gate_seq
    finally:
        engine.dispose()
    return verified


def test_postgres_deployment_serves_scanners_and_survives_backup_and_restore(
    deployment: Deployment,
) -> None:
    env = deployment.env()
    setup: list[str | Path] = [
        DEPLOY / "postgres-setup.sh",
        "--db",
        deployment.name,
        "--role",
        deployment.name,
    ]
    setup_env = {**env, "CHECKPOINT_DB_PASSWORD": deployment.password}
    first = _run(["bash", *setup, *deployment.server_args()], setup_env, timeout=60)
    assert "Applied:  0001" in first.stdout
    again = _run(["bash", *setup, *deployment.server_args()], setup_env, timeout=60)
    assert "already up to date" in again.stdout  # idempotent

    seeded = _seed(deployment)
    online_images = _render(seeded.online_texts, deployment.tmp / "online")
    offline_images = _render(seeded.offline_texts, deployment.tmp / "offline")

    server = Gunicorn(env, deployment.tmp / "gunicorn.log")
    try:
        server.wait_ready()
        scanner = BIN / "checkpoint-scanner"
        data: list[str | Path] = ["--data-dir", deployment.tmp / "scanner"]
        _run(
            [scanner, "enroll", "--server", server.url, "--code", seeded.enrolment_code, *data],
            env,
        )
        scan: list[str | Path] = [
            scanner,
            "run",
            "--headless",
            "--thermometer",
            "fixed:36.5",
            "--direction",
            "out",
        ]
        online = _run([*scan, "--images", online_images, "--server", server.url, *data], env)
        verdicts = _verdicts(online.stdout)
        assert len(verdicts) == 3, online.stdout + online.stderr
        assert all(v["online"] is True for v in verdicts), verdicts
        offline = _run([*scan, "--images", offline_images, "--offline", *data], env)
        assert [v["online"] for v in _verdicts(offline.stdout)] == [False, False], offline.stdout

        synced = _run([scanner, "sync", "--server", server.url, *data], env)
        assert "sent 2," in synced.stdout, synced.stdout
        assert _crossing_counts(deployment.url) == (5, 2)
        access = [line for line in server.log.read_text().splitlines() if " /api/v1/" in line]
        assert any(" POST /api/v1/scans 200 " in line for line in access), access
        assert not [line for line in access if "127.0.0.1" in line or "?" in line], access
    finally:
        server.stop()

    chain_rows = _verify_chains_directly(deployment.url)
    backups = deployment.tmp / "backups"
    made = _run(["bash", DEPLOY / "backup.sh", "--dest", backups, "--keep", "3"], env)
    archive = Path(made.stdout.strip().splitlines()[-1])
    assert archive.stat().st_mode & 0o777 == 0o600
    members = _run(["tar", "-tf", archive], env).stdout.split()
    assert sorted(members) == ["database.pgdump", "keys.tar", "manifest.txt"]

    admin = create_engine(deployment.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{deployment.name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    restore: list[str | Path] = [
        "bash",
        DEPLOY / "restore.sh",
        "--admin-user",
        deployment.server_args()[-1],
    ]
    _run([*restore, backups], env, timeout=60)
    refused = _run([*restore, backups], env, check=False)  # not into a database in use
    assert refused.returncode != 0
    assert "not empty" in refused.stderr

    assert _crossing_counts(deployment.url) == (5, 2)
    if _audit_available(env):
        _run([BIN / "checkpoint", "audit", "verify"], env)
        drill = _run(
            ["bash", DEPLOY / "restore-drill.sh", "--admin-user", deployment.server_args()[-1]],
            {**env, "CHECKPOINT_BACKUP_DIR": str(backups)},
            timeout=60,
        )
        assert drill.returncode == 0, drill.stdout + drill.stderr
        assert drill.stdout.splitlines()[-1].startswith("PASS restore drill"), drill.stdout
    else:
        # `checkpoint audit verify` is not written yet: check the chains the same way.
        assert _verify_chains_directly(deployment.url) == chain_rows
