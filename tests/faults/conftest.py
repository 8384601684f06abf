"""Fixtures of the fault tests (helpers live in ``compound.py`` and ``powercut.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.powercut import ShimUnavailable, build_shim


@pytest.fixture(scope="session")
def powercut_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled fsync shim of the power-cut harness; skips (with the reason) without a C
    compiler."""
    try:
        return build_shim(tmp_path_factory.mktemp("shim"))
    except ShimUnavailable as exc:
        pytest.skip(f"power-cut harness unavailable: {exc}")
