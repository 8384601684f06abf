"""One verdict, two runtimes: the JavaScript decider agrees with passes.decide on every case.

- The committed corpus (tests/js/corpus/decide_cases.json.gz) is what the Python code decides
  now: a change to passes/ (or to the scanner's offline decision) that is not regenerated and
  carried to gate/static/js/checkpoint/ fails here, naming the cases it changed.
- Node 20 runs the JavaScript decider over every case (WebCrypto Ed25519), and over the
  signature cases with the vendored noble-ed25519; Chromium does the same, with the modules
  served by the gate app under its Content-Security-Policy.

Node is required in CI (``CHECKPOINT_REQUIRE_NODE=1``, set by .ci/run); elsewhere a machine
without it skips the Node tests with the reason.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import generate_corpus
import pytest
from node_runner import assert_all_agree, node_path, run_node

from gate.app import create_app
from gate.settings import Settings
from gate.web.security import CONTENT_SECURITY_POLICY
from passes import Code

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SIGNATURE_KINDS = ("verify", "verify_screen", "screen", "card")
CODES_NO_CORPUS_CASE = {
    Code.UNKNOWN_PASS: "no decision makes it (a code the server's records use)",
    Code.SUPERVISOR_LOGIN_INVALID: "the gate server's check of a password, not a decision",
    Code.OVERRIDE_UNAUTHORIZED: "the gate server's override policy, not a decision",
}
"""Codes no case of the corpus can show, and why (their reason texts are still compared)."""


@pytest.fixture(scope="module")
def fresh_corpus() -> dict[str, Any]:
    return generate_corpus.build_corpus()


@pytest.fixture(scope="module")
def committed_corpus() -> dict[str, Any]:
    text = generate_corpus.read_committed()
    assert text is not None, "no committed corpus: run python tests/js/generate_corpus.py"
    return json.loads(text)  # type: ignore[no-any-return]


def test_committed_corpus_is_what_passes_decides_now(fresh_corpus: dict[str, Any]) -> None:
    changed = generate_corpus.stale_cases(fresh_corpus, generate_corpus.read_committed())
    if changed:
        pytest.fail(
            f"{generate_corpus.STALE_MESSAGE}\nchanged: {', '.join(changed)}", pytrace=False
        )


def test_corpus_covers_every_code_rule_kind_and_zone_edge(
    committed_corpus: dict[str, Any],
) -> None:
    cases = committed_corpus["cases"]
    assert len(cases) >= 2000
    seen = Counter()
    for case in cases:
        expected = case["expected"]
        for code in (*expected.get("codes", ()), *expected.get("notes", ()), expected.get("code")):
            seen[code] += 1
    missing = [c.value for c in Code if not seen[c.value] and c not in CODES_NO_CORPUS_CASE]
    assert not missing, f"no corpus case shows {missing}"
    rules = committed_corpus["rulesets"].values()
    windows = {r["quota"]["window"] for r in rules if r["quota"]}
    assert windows == {"calendar_days", "rolling_hours"}
    assert any(r["quota"] is None for r in rules)
    assert any(r["quota"] and r["quota"]["exits"] > 1 for r in rules)
    assert any(r["max_out_at_once"] > 1 for r in rules)
    assert any(r["max_outside_minutes"] for r in rules)
    assert any(r["exit_hours"] and r["exit_hours"]["start"] > r["exit_hours"]["end"] for r in rules)
    assert any(not r["temperature"]["required"] for r in rules)
    assert any(r["temperature"]["fever_threshold_tenths"] != 373 for r in rules)
    zones = {r["timezone"] for r in rules}
    assert {"Europe/Berlin", "America/New_York", "Asia/Shanghai", "UTC"} <= zones
    kinds = Counter(case["kind"] for case in cases)
    assert {"decide", "screen", "verify", "verify_screen", "card", "bundle"} <= set(kinds)
    assert {"rules", "bundle_read"} <= set(kinds)
    assert any(case.get("override") and case["expected"]["allowed"] for case in cases)
    assert any(case["expected"].get("degraded") for case in cases)


def test_node_decider_agrees_with_every_case(committed_corpus: dict[str, Any]) -> None:
    result = run_node()
    assert result["backend"] in {"webcrypto", "noble"}  # Node 20 has WebCrypto Ed25519
    assert result["total"] == len(committed_corpus["cases"])
    assert_all_agree(result, f"Node {result['node']}")


def test_node_noble_fallback_agrees_on_every_signature_case() -> None:
    result = run_node("--backend=noble", f"--kind={','.join(SIGNATURE_KINDS)}")
    assert result["backend"] == "noble"
    assert_all_agree(result, "Node with noble-ed25519")


def test_node_decider_api_takes_dates_and_keeps_microseconds() -> None:
    completed = subprocess.run(
        [node_path(), str(HERE / "api_checks.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.strip().startswith("ok ")


@pytest.mark.browser
def test_chromium_decider_agrees_with_every_case(
    tmp_path: Path, committed_corpus: dict[str, Any]
) -> None:
    from tests.e2e.browser_helpers import launch, live_server, require_browser

    sync_api, chromium = require_browser()
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(tmp_path),
            "CHECKPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        }
    )
    app = create_app({"TESTING": True}, settings=settings)
    corpus_text = generate_corpus.read_committed()
    checker = (HERE / "corpus_check.mjs").read_text(encoding="utf-8")
    page_html = "<!doctype html><meta charset=utf-8><title>decider corpus</title>"
    test_files = {
        "index.html": ("text/html", page_html),
        "corpus_check.mjs": ("text/javascript", checker),
        "corpus.json": ("application/json", corpus_text),
    }

    def serve_test_file(route: Any) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        content_type, body = test_files[name]
        headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
        route.fulfill(status=200, content_type=content_type, body=body, headers=headers)

    script = """async ([backend, kinds]) => {
        const api = await import('/static/js/checkpoint/index.js');
        const {checkCorpus} = await import('/__decider__/corpus_check.mjs');
        const corpus = await (await fetch('/__decider__/corpus.json')).json();
        api.useEd25519(backend);
        const select = kinds === null ? () => true : (c) => kinds.includes(c.kind);
        const result = await checkCorpus(api, corpus, {select});
        return {...result, disagreements: result.disagreements.slice(0, 50),
                agent: navigator.userAgent};
    }"""
    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page()
            page.route("**/__decider__/*", serve_test_file)
            page.goto(f"{base}/__decider__/index.html")
            native = page.evaluate(script, ["auto", None])
            fallback = page.evaluate(script, ["noble", list(SIGNATURE_KINDS)])
        finally:
            browser.close()
    assert native["backend"] == "webcrypto"
    assert native["total"] == len(committed_corpus["cases"])
    assert_all_agree(native, f"Chromium ({native['agent']})")
    assert fallback["backend"] == "noble"
    assert_all_agree(fallback, "Chromium with noble-ed25519")
