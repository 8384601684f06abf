"""Refusals that entry points translate: a stable code, its parameters, an English msgid.

Operations raise a :class:`CodedError` subclass whose ``messages`` table maps each code to
an English message id marked with :func:`N_` (so the catalogue extracts it). Pages show
``gettext(exc.message_id, **exc.params)``; CLIs ``gate.cli.support.translate(...)`` (the
same zh_CN catalogue); :attr:`CodedError.message` is the English text, for logs and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the message catalogue; entry points translate it."""
    return msgid


class CodedError(Exception):
    """A refusal: ``code`` (stable, for machines and tests) and the ``params`` of its
    message ``message_id`` (``messages[code]``)."""

    messages: ClassVar[Mapping[str, str]] = {}

    def __init__(self, code: str, /, **params: str | int) -> None:
        self.code = code
        self.params = params
        self.message_id = self.messages[code]
        self.message = self.message_id % params if params else self.message_id
        super().__init__(self.message)
