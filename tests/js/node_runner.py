"""Running the JavaScript decider's corpus in Node from pytest (tests/js/run_corpus.mjs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REQUIRE_NODE_ENV = "CHECKPOINT_REQUIRE_NODE"


def node_path() -> str:
    """The node executable; a skip with the reason without one (a failure in CI)."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get(REQUIRE_NODE_ENV) == "1":
            pytest.fail(f"node is not on PATH; {REQUIRE_NODE_ENV}=1 requires it", pytrace=False)
        pytest.skip("node (Node.js 20) is not installed: the JavaScript decider is not checked")
    return node


def run_node(*args: str) -> dict[str, Any]:
    """run_corpus.mjs with ``args``: its JSON summary."""
    completed = subprocess.run(
        [node_path(), str(HERE / "run_corpus.mjs"), "--json", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f"run_corpus.mjs said nothing (exit {completed.returncode}): {completed.stderr}"
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def assert_all_agree(result: dict[str, Any], runtime: str) -> None:
    """Fail showing the first disagreements unless every case agreed."""
    shown = []
    for item in result["disagreements"][:20]:
        if "error" in item:
            shown.append(f"{item['id']}: {item['error']}")
        for diff in item.get("differences", []):
            shown.append(
                f"{item['id']}: {diff['field']}: expected {diff['expected']!r}, "
                f"got {diff['actual']!r}"
            )
    assert not result["disagreements"], (
        f"{runtime}: {result['agreed']}/{result['total']} cases agree; first disagreements:\n"
        + "\n".join(shown)
    )
    assert result["total"] > 0
