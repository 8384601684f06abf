"""Moved to :mod:`gate.devices.bundle` (this re-export goes once the API views import it there)."""

from gate.devices.bundle import build_bundle

__all__ = ["build_bundle"]
