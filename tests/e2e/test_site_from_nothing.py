"""A real site set up from nothing by CLI alone (no demo): the office's first hour.

Runs the installed ``checkpoint`` and ``checkpoint-scanner`` commands in a fresh instance
directory, on an empty SQLite file and on an empty PostgreSQL database: schema, community,
gate, rules template, first admin, register import, signing key, passes, a card, a scanner
device enrolled with its printed code, then the scanner scans the card image and the
crossing is in the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).parents[1] / "faults"))
from compound import ServerProcess

BIN = Path(sys.executable).parent
HEADER = [
    "户号",
    "片区",
    "网格",
    "楼栋",
    "单元",
    "房号",
    "户主姓名",
    "联系电话",
    "身份证号",
    "人数",
    "状态",
]


def _register(path: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for room in (101, 102, 201):
        sheet.append(
            [
                f"7-1-{room}",
                "一片区",
                "第1网格",
                "7",
                "1",
                str(room),
                "张三",
                f"13800138{room:03d}",
                "",
                "3",
                "正常",
            ]
        )
    workbook.save(path)
    return path


class Site:
    """The two commands bound to one instance directory and database."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.env = {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(directory),
            "CHECKPOINT_ENV": "development",
            "CHECKPOINT_INSTANCE_DIR": str(directory / "var"),
            "CHECKPOINT_DATABASE_URL": database_url,
        }

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(BIN / "checkpoint"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"checkpoint {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def scanner(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "checkpoint-scanner"), *args, "--data-dir", str(self.directory / "scan")],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"checkpoint-scanner {args}:\n{done.stdout}{done.stderr}"
        return done.stdout


def test_an_office_sets_up_a_site_by_cli_and_scans_its_first_card(
    tmp_path: Path, fresh_db_url: str
) -> None:
    started = time.monotonic()
    site = Site(tmp_path, fresh_db_url)
    site.run("db", "upgrade")
    created = site.run("community", "create", "--name", "幸福里小区", "--code", "xfl")
    community_id = created.strip().splitlines()[-1]
    assert community_id.isdigit()
    assert "xfl" in site.run("community", "list")
    site.run("gates", "add", "--community", community_id, "--name", "南门", "--code", "south")
    site.run("rules", "set", "--community", "xfl", "--template", "two-days")
    assert "每两天可外出一次" in site.run("rules", "show")
    site.run(
        "users",
        "create-admin",
        "--username",
        "admin",
        "--password-stdin",
        stdin="correct-horse-battery\n",
    )
    site.run("households", "import", str(_register(tmp_path / "住户.xlsx")))
    site.run("keys", "create")
    site.run("passes", "issue", "--all")
    card = tmp_path / "card.png"
    site.run("passes", "card", "--household", "7-1-101", "--out", str(card))
    added = site.run("devices", "add", "--gate", "south")
    code = added.strip().splitlines()[-1]
    assert "south" in site.run("gates", "list")

    server = ServerProcess(site.env, tmp_path / "server.log")
    server.start()
    try:
        site.scanner("enroll", "--server", server.url, "--code", code)
        lines = site.scanner(
            "run",
            "--images",
            str(card),
            "--headless",
            "--thermometer",
            "fixed:36.5",
            "--direction",
            "out",
        )
    finally:
        server.stop()
    screens = [json.loads(line) for line in lines.splitlines() if line.startswith("{")]
    assert [(s["kind"], s["online"]) for s in screens] == [("allow", True)], lines
    exported = tmp_path / "log.csv"
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    days = [(today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()]
    site.run(
        "crossings",
        "export",
        "--from",
        days[0],
        "--to",
        days[1],
        "--format",
        "csv",
        "--out",
        str(exported),
    )
    rows = exported.read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 2, rows
    assert "7-1-101" in rows[1]
    print(f"fresh site to first scanned card: {time.monotonic() - started:.1f} s")
