"""What deciding needs to know about a community: its public keys and current rules.

Loaded from the database and cached per process for a few seconds, so that a scan's
signature is checked before the request touches a household, a pass or a crossing
(a flood of forged passes costs no row locks). A change made in this process
(new rules, a retired key) invalidates the cache at once; other worker processes pick
it up within ``ttl_seconds``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.models import Community
from gate.community.models import RuleSet as RuleSetRecord
from gate.signing.models import SigningKeyRecord
from passes import KeyEntry, KeySet, RuleSet, rules_from_json


@dataclass(frozen=True)
class CommunityContext:
    """A community's deciding context at one moment."""

    community_id: int
    name: str
    timezone: str
    keys: KeySet
    rules: RuleSet


def load_context(session: Session, community_id: int) -> CommunityContext:
    """Read a community's keys and current rules from the database (no cache)."""
    community = session.get(Community, community_id)
    if community is None:
        raise LookupError(f"no community {community_id}")
    records = session.scalars(
        select(SigningKeyRecord).where(SigningKeyRecord.community_id == community_id)
    )
    keys = KeySet(
        tuple(
            KeyEntry(
                key_id=r.key_id,
                public_key=r.public_key,
                status=r.status,
                algorithm=r.algorithm,
                not_before=r.not_before,
                not_after=r.not_after,
            )
            for r in records
        )
    )
    return CommunityContext(
        community_id=community.id,
        name=community.name,
        timezone=community.timezone,
        keys=keys,
        rules=current_rules(session, community),
    )


def current_rules(session: Session, community: Community) -> RuleSet:
    """The community's rule set in force (the defaults, version 1, if none was saved)."""
    record = session.scalar(
        select(RuleSetRecord).where(
            RuleSetRecord.community_id == community.id,
            RuleSetRecord.version == community.current_rule_version,
        )
    )
    if record is None:
        return RuleSet(version=max(community.current_rule_version, 1), timezone=community.timezone)
    return rules_from_json(record.rules_json)


class ContextCache:
    """Per-process cache of :class:`CommunityContext`, thread-safe."""

    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, CommunityContext]] = {}

    def get(self, session: Session, community_id: int) -> CommunityContext:
        """The cached context, reloaded when older than the TTL."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(community_id)
        if entry is not None and now - entry[0] < self.ttl_seconds:
            return entry[1]
        context = load_context(session, community_id)
        with self._lock:
            self._entries[community_id] = (now, context)
        return context

    def invalidate(self, community_id: int | None = None) -> None:
        """Forget one community (or all) after a change of keys or rules."""
        with self._lock:
            if community_id is None:
                self._entries.clear()
            else:
                self._entries.pop(community_id, None)
