"""The package's one exception type. Every rejection of input carries a stable code."""

from __future__ import annotations

from passes.codes import Code


class PassError(Exception):
    """A pass (or key, or rule) input was refused.

    ``code`` is the verdict code (e.g. ``bad_format``); ``detail`` is a stable
    sub-code saying exactly which check failed (e.g. ``wrong_prefix``).
    """

    def __init__(self, code: Code, detail: str, message: str = "") -> None:
        super().__init__(message or f"{code.value}: {detail}")
        self.code = code
        self.detail = detail
