"""The services registry: what entry points need, built once per app.

Kept apart from the app factory (``gate.app``) so that views can reach the services
without importing the module that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gate.community.context import ContextCache
from gate.db import utcnow
from gate.settings import Settings

EXTENSION_KEY = "checkpoint"


@dataclass
class Services:
    """What request handlers need, built once per app (reachable as ``services()``)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    contexts: ContextCache = field(default_factory=ContextCache)
    clock: Callable[[], datetime] = utcnow
    """The server's "now" (aware UTC) for decisions and device bookkeeping; tests replace it."""


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def now() -> datetime:
    """The server's now (aware UTC): ``Services.clock``."""
    return services().clock()
