"""Signed checkpoints of the crossing log: each gate's head, signed, to keep off the machine.

The hash chain alone cannot tell a log whose tail was cut off (or rewritten from some row on,
hashes recomputed and the gate row edited to match) from an honest shorter log. A checkpoint
can: it is a small JSON document naming, per gate, the ``gate_seq`` and ``row_hash`` of the
head at the time, signed with the community's Ed25519 signing key. Printed, mailed to the
district or copied to a USB stick, it later proves the log up to those rows is unchanged.

Document (format ``checkpoint-log/1``)::

    {"format": "checkpoint-log/1", "community": 350322,
     "gates": [{"gate_id": 1, "gate_code": "south", "gate_seq": 1234, "row_hash": "ab..."}],
     "created_at": "2026-11-22T08:00:00Z", "key_id": 3, "signature": "<base64>"}

``signature`` is Ed25519 over ``SIGNING_CONTEXT`` + the canonical JSON (sorted keys, no
spaces, UTF-8) of every other field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.crossings.chain import ChainBreak
from gate.db import GENESIS_HASH
from gate.devices.models import Gate
from gate.signing.models import SigningKeyRecord
from gate.verification.log import AuditReport, ChainWalk, stream_chain, verify_log
from gate.verification.models import ChainBase
from passes import KeySet, KeyStatus, SigningKey, format_utc

FORMAT = "checkpoint-log/1"
SIGNING_CONTEXT = b"checkpoint/log-checkpoint/v1\x00"
"""Domain separation: a checkpoint signature can never pass as a pass signature, or back."""


class LogNotIntact(Exception):
    """The log does not verify, so no checkpoint is signed; ``report`` says where it breaks."""

    def __init__(self, report: AuditReport) -> None:
        broken = ", ".join(
            f"gate {g.gate_code} at seq {g.problem.gate_seq} ({g.problem.problem})"
            for g in report.broken
            if g.problem is not None
        )
        super().__init__(f"the crossing log does not verify: {broken}")
        self.report = report


@dataclass(frozen=True)
class CheckpointProblem:
    """One reason a checkpoint does not hold. ``code`` is stable; ``detail`` is for people.

    Codes: ``bad_document``, ``unknown_key``, ``key_revoked``, ``bad_signature``,
    ``unknown_gate``, ``wrong_community``, ``truncated`` (the row at the checkpoint's
    ``gate_seq`` is gone), ``chain_broken`` (a row up to it does not verify),
    ``row_changed`` (the row is there with another hash), ``purged`` (a privacy purge
    deleted the rows since; only the purge's own checkpoint still checks).
    """

    code: str
    detail: str
    gate_id: int | None = None
    gate_seq: int | None = None

    def __str__(self) -> str:
        where = "" if self.gate_id is None else f"gate {self.gate_id} seq {self.gate_seq}: "
        return f"{where}{self.code}: {self.detail}"


def write_checkpoint(
    session: Session, key: SigningKey, now: datetime, *, community_id: int | None = None
) -> dict[str, Any]:
    """Verify the community's log and return a signed checkpoint of every gate's head.

    The community is the one ``key`` belongs to (its :class:`SigningKeyRecord`) unless
    ``community_id`` is given. Read-only. Raises :class:`LogNotIntact` if the log does not
    verify (a checkpoint MUST NOT vouch for a broken log) and LookupError for an unknown key.
    """
    if community_id is None:
        record = session.get(SigningKeyRecord, key.entry.key_id)
        if record is None:
            raise LookupError(f"signing key {key.entry.key_id} is not registered")
        community_id = record.community_id
    report = verify_log(session, community_id)
    if not report.ok:
        raise LogNotIntact(report)
    document: dict[str, Any] = {
        "format": FORMAT,
        "community": community_id,
        "gates": [
            {
                "gate_id": gate.gate_id,
                "gate_code": gate.gate_code,
                "gate_seq": gate.head_seq,
                "row_hash": gate.head_hash,
            }
            for gate in report.gates
        ],
        "created_at": format_utc(now),
        "key_id": key.entry.key_id,
    }
    signature = key.private_key.sign(signed_message(document))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    return document


def record_checkpoint(
    session: Session, document: Mapping[str, Any], *, file_name: str, actor: str
) -> None:
    """Record (audit event ``audit.checkpoint``) that ``document``, a checkpoint from
    :func:`write_checkpoint`, was saved as ``file_name``. Adds to ``session``; never commits.

    Kept apart from :func:`write_checkpoint` so that the long walk runs in a read-only unit
    and only this short write takes the write lock.
    """
    record_event(
        session,
        actor=actor,
        action="audit.checkpoint",
        community_id=document["community"],
        subject_type="community",
        subject_id=document["community"],
        details={
            "file": file_name,
            "key_id": document["key_id"],
            "gates": document["gates"],
        },
    )


def signed_message(document: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: context + canonical JSON minus the signature."""
    body = {name: value for name, value in document.items() if name != "signature"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return SIGNING_CONTEXT + canonical.encode("utf-8")


def verify_checkpoint(
    session: Session, document: Mapping[str, Any], keys: KeySet
) -> list[CheckpointProblem]:
    """Every reason ``document`` does not hold for the log in ``session``; empty if it holds.

    The signature is checked first against ``keys`` (better a public key set kept off the
    machine than the database's own). With a bad signature nothing else is checked. Then for
    each gate: the chain from its first row to the checkpoint's ``gate_seq`` MUST verify and
    end in the checkpoint's ``row_hash``. Rows added after the checkpoint are not its concern.
    """
    problem = _signature_problem(document, keys)
    if problem is not None:
        return [problem]
    community_id = document["community"]
    problems: list[CheckpointProblem] = []
    for item in document["gates"]:
        problems.extend(_gate_problems(session, community_id, item))
    return problems


def _signature_problem(document: Mapping[str, Any], keys: KeySet) -> CheckpointProblem | None:
    shape = _shape_problem(document)
    if shape is not None:
        return CheckpointProblem("bad_document", shape)
    try:
        signature = base64.b64decode(document["signature"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        return CheckpointProblem("bad_document", "signature is not base64")
    candidates = keys.candidates(document["key_id"])
    if not candidates:
        return CheckpointProblem("unknown_key", f"key {document['key_id']} is not in the key set")
    message = signed_message(document)
    for entry in candidates:
        if entry.verifies(message, signature):
            if entry.status is KeyStatus.REVOKED:
                return CheckpointProblem("key_revoked", f"key {entry.key_id} was revoked")
            return None
    return CheckpointProblem("bad_signature", "the signature does not match the document")


def _shape_problem(document: Mapping[str, Any]) -> str | None:
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        return f"not a {FORMAT} document"
    if not isinstance(document.get("signature"), str):
        return "no signature"
    for name in ("community", "key_id"):
        if not _is_int(document.get(name)):
            return f"{name} is not a whole number"
    gates = document.get("gates")
    if not isinstance(gates, list):
        return "gates is not a list"
    for item in gates:
        if not isinstance(item, Mapping):
            return "a gate entry is not an object"
        if not (_is_int(item.get("gate_id")) and _is_int(item.get("gate_seq"))):
            return "a gate entry lacks gate_id or gate_seq"
        if item["gate_seq"] < 0 or not isinstance(item.get("row_hash"), str):
            return "a gate entry has a bad gate_seq or row_hash"
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _gate_problems(
    session: Session, community_id: int, item: Mapping[str, Any]
) -> list[CheckpointProblem]:
    gate_id, seq, expected = item["gate_id"], item["gate_seq"], item["row_hash"]
    gate_community = session.scalar(select(Gate.community_id).where(Gate.id == gate_id))
    if gate_community is None:
        return [CheckpointProblem("unknown_gate", "the gate is gone", gate_id, seq)]
    if gate_community != community_id:
        detail = f"the gate belongs to community {gate_community}"
        return [CheckpointProblem("wrong_community", detail, gate_id, seq)]
    base = session.get(ChainBase, gate_id)
    start = (0, GENESIS_HASH) if base is None else (base.base_seq, base.base_hash)
    if start[0] >= seq:
        if start[0] == seq and start[1] == expected:
            return []  # the purge's own checkpoint, or one that ended where the purge did
        detail = f"rows up to {start[0]} were purged after a checkpoint; this one cannot be checked"
        return [CheckpointProblem("purged", detail, gate_id, seq)]
    walk = ChainWalk(gate_id, start=start)
    result = walk.run(stream_chain(session, gate_id, up_to_seq=seq, after_seq=start[0]))
    if isinstance(result, ChainBreak):
        detail = f"row {result.gate_seq} does not verify ({result.problem})"
        return [CheckpointProblem("chain_broken", detail, gate_id, result.gate_seq)]
    if result.gate_seq < seq:
        detail = f"the log ends at row {result.gate_seq}; the checkpoint saw row {seq}"
        return [CheckpointProblem("truncated", detail, gate_id, seq)]
    actual = result.row_hash if seq else GENESIS_HASH
    if actual != expected:
        detail = f"row {seq} now hashes to {actual[:16]}…, the checkpoint says {expected[:16]}…"
        return [CheckpointProblem("row_changed", detail, gate_id, seq)]
    return []
