"""The decoder fuzz run (bench/fuzz_decoder.py): a quick run here, the full 100,000 as ``slow``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from passes import Code, parse_pass, verify_pass

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fuzz_decoder.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fuzz_decoder", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


fuzz = _load()


def test_quick_fuzz_of_5000_inputs_raises_nothing_but_pass_error_and_stays_fast() -> None:
    report = fuzz.run(5_000, seed=1)

    assert report.executions == 5_000
    assert report.exceptions == []
    assert report.slow == []
    assert report.forged == []
    assert report.max_ms < 50
    # The mix reaches every stage: shape checks, the key lookup and the signature check.
    assert report.outcomes["bad_format/wrong_length"] > 0
    assert report.outcomes["bad_signature/bad_signature"] > 0
    assert report.outcomes["unknown_key/unknown_key"] > 0


@pytest.mark.slow
def test_full_fuzz_of_100000_inputs_raises_nothing_but_pass_error_and_stays_fast(
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("10-30 s: select it with -m slow")
    assert fuzz.main(["--count", "100000"]) == 0
    out = capsys.readouterr().out
    assert "executions: 100000" in out
    assert "exceptions: 0" in out


def test_fuzz_harness_reports_an_escaping_exception() -> None:
    def fragile_parse(text: object) -> object:
        if isinstance(text, str) and len(text) % 7 == 0:
            raise IndexError("boom")
        return parse_pass(text)

    report = fuzz.run(300, seed=2, parse=fragile_parse)

    assert report.exceptions
    assert not report.ok


def test_fuzz_harness_reports_an_input_over_the_time_limit() -> None:
    report = fuzz.run(50, seed=3, limit_ms=0.0)
    assert report.slow
    assert not report.ok


def test_fuzz_harness_reports_a_changed_text_that_verifies() -> None:
    def gullible_verify(text: object, keys: object, **kwargs: object) -> object:
        check = verify_pass(text, keys, **kwargs)
        if getattr(check, "code", None) is Code.BAD_SIGNATURE:
            signed = parse_pass(text)
            return fuzz.VerifiedPass(signed.fields, next(iter(keys)))
        return check

    report = fuzz.run(500, seed=4, verify=gullible_verify)

    assert report.forged
    assert not report.ok


def test_fuzz_cli_exits_non_zero_on_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = fuzz.FuzzReport(executions=10, exceptions=[("'x'", "parse_pass raised ValueError")])
    monkeypatch.setattr(fuzz, "run", lambda count, seed, *, limit_ms: failing)

    assert fuzz.main(["--count", "10"]) == 1
    assert "exceptions: 1" in capsys.readouterr().out
