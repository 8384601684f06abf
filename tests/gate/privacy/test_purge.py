"""The purge keeps the log verifiable: closed by a signed checkpoint, verified from it after."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from privacy_site import T0, build_log, make_site
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.households.models import Household, Member
from gate.issuing.models import IssuedPass, PassStatus
from gate.privacy.purge import purge
from gate.privacy.retention import PrivacyError, end_lockdown, set_retention
from gate.verification.checkpoints import verify_checkpoint
from gate.verification.log import verify_log
from passes import KeySet


def _crossings(session: Session, community_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Crossing).where(Crossing.community_id == community_id)
        )
        or 0
    )


def test_rolling_purge_deletes_a_prefix_and_the_log_verifies_from_the_checkpoint(
    db_session: Session, tmp_path: Path
) -> None:
    site = make_site(db_session, tmp_path / "keys")
    build_log(db_session, site, days=4)  # 4 days x 2 households x 2 crossings
    now = T0 + timedelta(days=10)

    result = purge(
        db_session,
        site.community.id,
        site.key,
        now=now,
        actor="test",
        before=T0 + timedelta(days=2),
    )

    assert result.crossings == 8
    assert _crossings(db_session, site.community.id) == 8
    report = verify_log(db_session, site.community.id)
    assert report.ok, report.to_dict()
    assert report.from_checkpoint_at == now
    assert report.rows_checked == 8
    [gate] = report.gates
    assert (gate.base_seq, gate.head_seq) == (8, 16)
    # the checkpoint signed before the purge still holds against what is left
    assert verify_checkpoint(db_session, result.checkpoint, KeySet((site.key.entry,))) == []
    [event] = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "privacy.purge", AuditEvent.community_id == site.community.id
        )
    ).all()
    assert json.loads(event.details_json)["deleted"] == {"crossings": 8}


def test_tampering_after_a_purge_is_still_found(db_session: Session, tmp_path: Path) -> None:
    site = make_site(db_session, tmp_path / "keys")
    build_log(db_session, site, days=3)
    purge(
        db_session,
        site.community.id,
        site.key,
        now=T0 + timedelta(days=9),
        actor="t",
        before=T0 + timedelta(days=1),
    )
    row = db_session.scalars(
        select(Crossing).where(Crossing.gate_id == site.gate.id).order_by(Crossing.gate_seq)
    ).first()
    assert row is not None
    row.operator = "改过"
    db_session.flush()

    report = verify_log(db_session, site.community.id)

    assert not report.ok
    [gate] = report.broken
    assert gate.problem is not None
    assert (gate.problem.gate_seq, gate.problem.problem) == (row.gate_seq, "content_changed")


def test_full_purge_waits_for_the_retention_after_the_lockdown_ends(
    db_session: Session, tmp_path: Path
) -> None:
    site = make_site(db_session, tmp_path / "keys")
    build_log(db_session, site, days=2)
    community_id = site.community.id
    household_ids = [household.id for household in site.households]
    set_retention(db_session, community_id, 14, actor="test")
    with pytest.raises(PrivacyError) as refused:
        purge(db_session, community_id, site.key, now=T0 + timedelta(days=3), actor="t")
    assert refused.value.code == "not_due"

    ended = end_lockdown(db_session, community_id, site.key, now=T0 + timedelta(days=3), actor="t")

    assert (ended.passes_revoked, ended.devices_revoked) == (2, 1)
    assert ended.purge_due_at == T0 + timedelta(days=17)
    statuses = db_session.scalars(
        select(IssuedPass.status).where(IssuedPass.community_id == community_id)
    ).all()
    assert set(statuses) == {PassStatus.REVOKED}
    with pytest.raises(PrivacyError):
        purge(db_session, community_id, site.key, now=T0 + timedelta(days=16), actor="t")

    result = purge(db_session, community_id, site.key, now=T0 + timedelta(days=17), actor="t")

    assert result.full
    assert result.crossings == 8
    assert result.households == 2
    assert result.deleted["members"] == 4
    assert result.deleted["passes"] == 2
    assert _crossings(db_session, community_id) == 0
    left = db_session.scalar(
        select(func.count()).select_from(Household).where(Household.community_id == community_id)
    )
    assert left == 0
    members = select(func.count()).select_from(Member).where(Member.household_id.in_(household_ids))
    assert db_session.scalar(members) == 0
    report = verify_log(db_session, community_id)
    assert report.ok
    assert report.from_checkpoint_at == T0 + timedelta(days=17)


def test_a_broken_log_is_not_purged(db_session: Session, tmp_path: Path) -> None:
    site = make_site(db_session, tmp_path / "keys")
    build_log(db_session, site, days=2)
    row = db_session.scalars(select(Crossing).where(Crossing.gate_id == site.gate.id)).first()
    assert row is not None
    row.temperature_tenths = 360
    db_session.flush()

    with pytest.raises(PrivacyError) as refused:
        purge(
            db_session,
            site.community.id,
            site.key,
            now=T0 + timedelta(days=9),
            actor="t",
            before=T0 + timedelta(days=1),
        )

    assert refused.value.code == "log_broken"
    assert _crossings(db_session, site.community.id) == 8
