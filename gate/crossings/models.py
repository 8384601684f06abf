"""The crossing log: every scan the gate decided, allowed or refused, online or offline.

Append-only and tamper-evident: each row carries ``gate_seq`` (1, 2, ... within its gate),
the previous row's hash and its own (the first row's previous hash is
``gate.db.GENESIS_HASH``), so the chain of one gate can be verified end to end.
Only the review fields (``conflict_reviewed_*``, ``conflict_note``) are written after insert,
and they are outside the hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, BigIntPK, UTCDateTime, text_enum, utcnow
from passes.state import Direction

FEVER_PREDICATE = "code = 'fever' OR codes LIKE '%fever%'"
"""SQL of a crossing whose verdict carries ``fever`` ("fever" is no substring of another
code). Queries use this very text, literally, so PostgreSQL can match the partial index."""
FEVER_COLUMNS = ("id", "gate_id", "household_id", "direction", "temperature_tenths", "allowed")
"""What a fever alert shows besides the time: covered by the fever index on PostgreSQL."""
CONFLICT_PREDICATE = "conflict OR conflict_with_id IS NOT NULL"
"""SQL of a conflict: flagged when stored, or later by the household timeline."""


class Crossing(Base):
    """One crossing as decided at the gate.

    ``client_id`` is the UUID the scanner generated: uploads are idempotent on it.
    ``household_id`` and ``pass_id`` are empty when the pass could not be attributed (forged,
    unreadable). ``code`` is the primary verdict code, ``codes`` all codes and ``flags`` extra
    markers, each space-separated. ``temperature_tenths`` is in tenths of a degree Celsius.
    ``rejected`` marks a crossing the server could not accept as valid; it is kept, never
    deleted. ``conflict`` marks offline decisions that together broke a rule.
    """

    __tablename__ = "crossings"
    __table_args__ = (
        UniqueConstraint("gate_id", "gate_seq"),
        CheckConstraint("gate_seq >= 1", name="gate_seq_positive"),
        # Covering on PostgreSQL: per-hour counts read the index alone (migration 0015).
        Index(None, "community_id", "scanned_at", postgresql_include=["direction", "allowed"]),
        Index(None, "household_id", "scanned_at"),
        Index(None, "community_id", "allowed", "code"),
        Index(None, "community_id", "conflict", "scanned_at"),
        # Partial indexes of the office's audit queries (migration 0015): a day's refusals,
        # fever alerts, and conflicts to review are a few rows among millions.
        Index(
            "ix_crossings_refused",
            "community_id",
            "scanned_at",
            postgresql_include=["code"],
            postgresql_where=text("NOT allowed"),
            sqlite_where=text("NOT allowed"),
        ),
        Index(
            "ix_crossings_fever",
            "community_id",
            "scanned_at",
            postgresql_include=[*FEVER_COLUMNS],
            postgresql_where=text(FEVER_PREDICATE),
            sqlite_where=text(FEVER_PREDICATE),
        ),
        Index(
            "ix_crossings_conflicts",
            "community_id",
            "scanned_at",
            "id",
            postgresql_where=text(CONFLICT_PREDICATE),
            sqlite_where=text(CONFLICT_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    household_id: Mapped[int | None] = mapped_column(U32, ForeignKey("households.id"))
    pass_id: Mapped[bytes | None] = mapped_column(LargeBinary(12), index=True)
    direction: Mapped[Direction] = mapped_column(text_enum(Direction, "direction", length=8))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    temperature_tenths: Mapped[int | None] = mapped_column(SmallInteger)
    allowed: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str | None] = mapped_column(String(32))
    codes: Mapped[str] = mapped_column(Text, default="", server_default="")
    flags: Mapped[str] = mapped_column(Text, default="", server_default="")
    next_exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rule_version: Mapped[int] = mapped_column(Integer)
    operator: Mapped[str | None] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_supervisor: Mapped[str | None] = mapped_column(String(64))
    override_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """With a verified override: the supervisor's account. Outside the hash chain (added
    after it was fixed); the hashed ``override_supervisor`` names the account's name and,
    for a card, the card's short id."""
    override_card_id: Mapped[bytes | None] = mapped_column(LargeBinary(12))
    """With an override made with a supervisor card: the card's id (outside the hash chain)."""
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    conflict: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    conflict_code: Mapped[str | None] = mapped_column(String(32))
    conflict_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conflict_reviewed_by: Mapped[str | None] = mapped_column(String(64))
    conflict_note: Mapped[str | None] = mapped_column(Text)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    clock_offset_ms: Mapped[int | None] = mapped_column(Integer)
    """The device's clock minus the server's (its estimate, in ms) when it decided; None
    for crossings decided by the server."""
    conflict_with_id: Mapped[int | None] = mapped_column(BigInteger)
    """With ``conflict``: the crossing this one conflicts with (had every gate known it)."""
    request_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the canonical request that created the crossing: a replay of its client
    id with another body is told apart from a true replay."""
    people: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    """How many people crossed on this scan (per-person counting; 1 unless entered)."""
    subject: Mapped[str | None] = mapped_column(String(16))
    """Who crossed when not a household's pass: ``visitor`` (a visitor pass), ``walk_in`` (a
    person without a pass, registered at the gate), ``delivery``, ``vehicle``; None for a
    household pass. Values are owned by the feature that records them."""
    subject_id: Mapped[int | None] = mapped_column(Integer)
    """The row of the subject's own table (visitor, vehicle, walk-in registration)."""
    plate: Mapped[str | None] = mapped_column(String(16))
    """A vehicle's plate as validated at the gate (normalised, e.g. ``鲁E12345``)."""
    shift_id: Mapped[int | None] = mapped_column(Integer)
    """The duty shift on at the gate when the crossing was decided (the roster's row)."""
    gate_seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class CrossingQuarterCount(Base):
    """Crossings rolled up per community, UTC quarter hour, direction and verdict: the
    per-hour counts of the office without scanning millions of rows
    (``gate.crossings.quarter_counts``).

    ``quarter`` is the UTC quarter hour's number (epoch seconds // 900): every zone's offset is
    a multiple of 15 minutes, so a quarter lies in one local hour. Holds the crossings with
    ``id <= CrossingRollup.last_crossing_id``; the purge subtracts what it deletes of them.
    A derived cache: no foreign key, rebuilt by rolling up from an empty table.
    """

    __tablename__ = "crossing_quarter_counts"

    community_id: Mapped[int] = mapped_column(U32, primary_key=True)
    quarter: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    allowed: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    crossings: Mapped[int] = mapped_column(BigInteger)


class CrossingRollup(Base):
    """The watermark of :class:`CrossingQuarterCount`: the crossings with ``id`` up to
    ``last_crossing_id`` are counted there, the others are counted live. One row
    (``id`` 1); none means nothing is rolled up yet."""

    __tablename__ = "crossing_rollup"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    last_crossing_id: Mapped[int] = mapped_column(BigInteger)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
