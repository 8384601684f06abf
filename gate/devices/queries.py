"""Reading gates: a community's gates, and one gate checked against its community."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gate.devices.models import Device, Gate


def gates_of(session: Session, community_id: int) -> list[Gate]:
    """The community's gates, by name."""
    return list(
        session.scalars(select(Gate).where(Gate.community_id == community_id).order_by(Gate.name))
    )


def gate_of(session: Session, gate_id: object, community_id: int) -> Gate | None:
    """The gate ``gate_id`` if it belongs to ``community_id`` (anything else, e.g. a value
    from a cookie that is not an id: None)."""
    if isinstance(gate_id, bool) or not isinstance(gate_id, int):
        return None
    gate = session.get(Gate, gate_id)
    return gate if gate is not None and gate.community_id == community_id else None


def gates_with_devices(session: Session, community_id: int) -> list[Gate]:
    """The community's gates by code, each with its devices loaded (the devices page)."""
    return list(
        session.scalars(
            select(Gate)
            .where(Gate.community_id == community_id)
            .options(selectinload(Gate.devices))
            .order_by(Gate.code)
        )
    )


def device_of(session: Session, device_id: int, community_id: int) -> Device | None:
    """Device ``device_id`` if its gate belongs to ``community_id``, else None."""
    device = session.get(Device, device_id)
    return device if device is not None and device.gate.community_id == community_id else None
