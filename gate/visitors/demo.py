"""The demo compound's outsiders: visitor passes in each state, a visitor let in once, and a
few days of walk-ins turned back and deliveries handed over at the gate."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.operations import find_user
from gate.community.context import load_context
from gate.crossings.operations import Origin, ScanRequest
from gate.devices.models import Gate
from gate.visitors.issuing import (
    IssuedVisitorPass,
    VisitorRequest,
    issue_visitor_pass,
    revoke_visitor_pass,
    short_id,
)
from gate.visitors.scans import record_visitor_scan
from gate.visitors.walk_ins import WalkInReport, register_walk_in
from passes import Direction

ACTOR = "demo"
_WALK_INS = (
    # (hours ago, kind, outcome, plate, phone, purpose)
    (50, "visitor", "turned_back", "闽C8K261", "13905951234", "探亲，无通行证"),
    (30, "delivery", "handed_over", None, "15859001122", "快递，放门口货架"),
    (26, "delivery", "handed_over", None, None, "外卖"),
    (20, "other", "turned_back", "粤B12345", None, "推销"),
    (3, "visitor", "turned_back", None, "13600001111", "找朋友"),
    (1, "delivery", "handed_over", None, "18950002222", "买菜团购"),
)


def add_demo_visitors(session: Session, community_id: int, *, now: datetime) -> None:
    """Visitor passes (active, used once, time-boxed for a nurse, revoked) and a week's
    walk-ins at the community's first gate, registered by the demo volunteer."""
    gate_id = session.scalar(
        select(Gate.id).where(Gate.community_id == community_id).order_by(Gate.id).limit(1)
    )
    volunteer = find_user(session, "volunteer")
    if gate_id is None:  # pragma: no cover - the demo always has a gate
        return
    origin = Origin(gate_id=gate_id, user_id=None if volunteer is None else volunteer.id)
    context = load_context(session, community_id)

    def issue(
        name: str, purpose: str, start: datetime, hours: int, **extra: object
    ) -> IssuedVisitorPass:
        request = VisitorRequest(
            kind=extra.pop("kind", "visitor"),
            name=name,
            purpose=purpose,
            valid_from=start,
            valid_until=start + timedelta(hours=hours),
            single_use=bool(extra.pop("single_use", True)),
            phone=extra.pop("phone", None),
            plate=extra.pop("plate", None),
            host=extra.pop("host", None),
        )
        return issue_visitor_pass(
            session, community_id=community_id, request=request, actor=ACTOR, now=start
        )

    issue("王建国", "探望老人", now - timedelta(hours=1), 10, phone="13812345678", host="1-1-101")
    used_at = now - timedelta(hours=28)
    used = issue("陈医生", "上门复诊", used_at - timedelta(hours=1), 8, kind="medical")
    record_visitor_scan(
        session,
        context=context,
        origin=origin,
        request=ScanRequest(
            client_id=str(uuid.uuid4()),
            pass_text=used.text,
            direction=Direction.IN,
            temperature=364,
            scanned_at=used_at,
            operator="志愿者小李",
        ),
        now=used_at,
    )
    issue(
        "社区护士",
        "核酸上门采样",
        now - timedelta(hours=2),
        24 * 3,
        kind="medical",
        single_use=False,
        plate="闽C2N518",
    )
    cancelled = issue("李四", "装修", now - timedelta(hours=5), 8, phone="13700007777")
    revoke_visitor_pass(
        session,
        community_id=community_id,
        number=short_id(cancelled.record.pass_id),
        reason="业主取消来访",
        actor=ACTOR,
        now=now - timedelta(hours=4),
    )
    for hours, kind, outcome, plate, phone, purpose in _WALK_INS:
        register_walk_in(
            session,
            context=context,
            origin=origin,
            report=WalkInReport(
                client_id=str(uuid.uuid4()),
                kind=kind,
                outcome=outcome,
                plate=plate,
                phone=phone,
                purpose=purpose,
                operator="志愿者小李",
            ),
            now=now - timedelta(hours=hours),
        )
