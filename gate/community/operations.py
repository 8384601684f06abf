"""Community operations: pick a community, ensure hierarchy rows, save rule versions, key lifecycle.

Hierarchy rows are found by code first, then by name, and created when missing (the first
household import is how a compound gets set up). Every write flushes; the caller commits.

Key retirement and revocation live here for now because ``gate/signing/operations.py`` only
creates keys; they belong next to :func:`~gate.signing.operations.create_signing_key`.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.community.models import RuleSet as RuleSetRecord
from gate.errors import N_, CodedError
from gate.signing.models import SigningKeyRecord
from gate.unit_of_work import after_commit
from passes import KeyStatus, RuleSet, rules_from_json

DEFAULT_AREA_NAME = "未分片区"
DEFAULT_GRID_NAME = "未分网格"
DEFAULT_CODE = "default"
CODE_LENGTH = 32

_Named = TypeVar("_Named", Area, Grid)


COMMUNITY_MESSAGES: dict[str, str] = {
    "private_key_missing": N_("The private key file %(path)s is missing: nothing to back up."),
    "backup_exists": N_("%(path)s already exists: choose a new file for the backup."),
    "unknown_community": N_("no community with code %(code)s; known codes: %(known)s."),
    "no_community_yet": N_("there is no community yet: create one first."),
    "several_communities": N_(
        "several communities: pick one with --community; known codes: %(known)s."
    ),
    "ambiguous_name": N_("%(name)s names %(count)d rows; use the code instead."),
    "several_areas": N_("The community has several areas: name the area (片区)."),
    "several_grids": N_("Area %(area)s has several grids: name the grid (网格)."),
    "several_compounds": N_(
        "Grid %(grid)s has several compounds: add the building in the office first."
    ),
    "no_signing_key": N_("Community %(community)s has no signing key %(key_id)d."),
    "key_not_active": N_("Key %(key_id)d is %(status)s, not active."),
    "revoke_needs_reason": N_("Revoking a key needs a reason."),
    "key_already_revoked": N_("Key %(key_id)d is already revoked."),
}
"""The English msgid of each :class:`CommunityError` code (translated by the catalogue)."""


class CommunityError(CodedError, LookupError):
    """A community, hierarchy row or key could not be found or changed: a stable ``code``
    and the ``params`` of its message.

    Entry points show ``gettext(exc.message_id, **exc.params)`` (CLIs: the Chinese
    catalogue first); :attr:`message` is the untranslated English text (logs, tests).
    """

    messages = COMMUNITY_MESSAGES


def find_community(session: Session, code: str | None) -> Community:
    """The community with ``code``; with ``code=None`` the only community there is.

    Raises :class:`CommunityError` when the code is unknown, or when ``code`` is None and
    there is not exactly one community (the message lists the codes to choose from).
    """
    if code is not None:
        community = session.scalar(select(Community).where(Community.code == code))
        if community is None:
            raise CommunityError("unknown_community", code=code, known=_choices(session))
        return community
    communities = session.scalars(select(Community).order_by(Community.code).limit(2)).all()
    if len(communities) == 1:
        return communities[0]
    if not communities:
        raise CommunityError("no_community_yet")
    raise CommunityError("several_communities", known=_choices(session))


def _choices(session: Session) -> str:
    codes = session.scalars(select(Community.code).order_by(Community.code)).all()
    return ", ".join(codes) if codes else "-"


# --- hierarchy ----------------------------------------------------------------------------------


def _free_code(wanted: str, taken: set[str], prefix: str) -> str:
    """``wanted`` if it fits a code column and is free among siblings, else ``<prefix><n>``."""
    if wanted and len(wanted) <= CODE_LENGTH and wanted not in taken:
        return wanted
    n = len(taken) + 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def _match(rows: list[_Named], key: str) -> _Named | None:
    """The row whose code is ``key``, else the one whose name is ``key``; ambiguity raises."""
    by_code = [r for r in rows if r.code == key]
    if by_code:
        return by_code[0]
    by_name = [r for r in rows if r.name == key]
    if len(by_name) > 1:
        raise CommunityError("ambiguous_name", name=key, count=len(by_name))
    return by_name[0] if by_name else None


def ensure_area(session: Session, community: Community, name: str | None) -> Area:
    """The area named (or coded) ``name``, created if missing.

    ``name=None``: the community's only area, or the default area (未分片区) when there is
    none; with several areas it raises :class:`CommunityError` (which one is unknowable).
    """
    areas = list(session.scalars(select(Area).where(Area.community_id == community.id)))
    found, name, code = _find_or_name(
        areas, name, DEFAULT_AREA_NAME, "A", CommunityError("several_areas")
    )
    if found is not None:
        return found
    area = Area(community=community, name=name, code=code)
    session.add(area)
    session.flush()
    return area


def ensure_grid(session: Session, area: Area, name: str | None) -> Grid:
    """The grid of ``area`` named (or coded) ``name``, created if missing (rules as areas)."""
    grids = list(session.scalars(select(Grid).where(Grid.area_id == area.id)))
    found, name, code = _find_or_name(
        grids,
        name,
        DEFAULT_GRID_NAME,
        "G",
        CommunityError("several_grids", area=area.name),
    )
    if found is not None:
        return found
    grid = Grid(area=area, name=name, code=code)
    session.add(grid)
    session.flush()
    return grid


def _find_or_name(
    rows: list[_Named],
    name: str | None,
    default_name: str,
    prefix: str,
    ambiguous: CommunityError,
) -> tuple[_Named | None, str, str]:
    """The row ``name`` designates among ``rows``, else the name and free code for a new one.

    ``name=None`` means the only row, or the default row (created when there are none);
    with several rows and no default it raises ``ambiguous``.
    """
    if name is None:
        if len(rows) == 1:
            return rows[0], default_name, DEFAULT_CODE
        existing = _match(rows, DEFAULT_CODE)
        if existing is None and rows:
            raise ambiguous
        return existing, default_name, DEFAULT_CODE
    existing = _match(rows, name)
    if existing is not None:
        return existing, name, existing.code
    return None, name, _free_code(name, {row.code for row in rows}, prefix)


def ensure_compound(session: Session, grid: Grid, community: Community) -> Compound:
    """The grid's compound; a new one named after the community when the grid has none.

    The import template has no compound column, so a grid with several compounds cannot
    take new buildings from a file: :class:`CommunityError`.
    """
    compounds = list(session.scalars(select(Compound).where(Compound.grid_id == grid.id)))
    if len(compounds) == 1:
        return compounds[0]
    if compounds:
        raise CommunityError("several_compounds", grid=grid.name)
    compound = Compound(grid=grid, name=community.name[:100], code=DEFAULT_CODE)
    session.add(compound)
    session.flush()
    return compound


def building_name(code: str) -> str:
    """What a building is called on cards: ``"3"`` -> ``"3号楼"``; other codes as they are."""
    return f"{code}号楼" if code.isdigit() else code


def ensure_building(session: Session, compound: Compound, code: str) -> Building:
    """Building ``code`` of ``compound``, created if missing (named by :func:`building_name`)."""
    building = session.scalar(
        select(Building).where(Building.compound_id == compound.id, Building.code == code)
    )
    if building is None:
        building = Building(compound=compound, code=code, name=building_name(code))
        session.add(building)
        session.flush()
    return building


def community_buildings(session: Session, community: Community) -> list[Building]:
    """Every building of ``community`` with its compound, grid and area loaded."""
    return list(
        session.scalars(
            select(Building)
            .join(Building.compound)
            .join(Compound.grid)
            .join(Grid.area)
            .where(Area.community_id == community.id)
            .order_by(Building.id)
        )
    )


# --- rules --------------------------------------------------------------------------------------


def save_rules(
    session: Session,
    community: Community,
    rules: RuleSet | str,
    *,
    actor: str,
    reason: str | None = None,
) -> RuleSetRecord:
    """Store ``rules`` (a RuleSet or its JSON) as the community's next version and make it current.

    The stored version number is assigned here (the ``version`` inside ``rules`` is ignored).
    Rules equal to the current ones (apart from the version) create nothing and return the
    current record. Writes a ``rules.save`` audit event. Raises
    :class:`~passes.RuleSetError` for invalid JSON. Processes caching the community's context
    see the new version within their cache TTL.
    """
    parsed = rules_from_json(rules) if isinstance(rules, str) else rules
    current = session.scalar(
        select(RuleSetRecord).where(
            RuleSetRecord.community_id == community.id,
            RuleSetRecord.version == community.current_rule_version,
        )
    )
    if current is not None:
        unchanged = dataclasses.replace(rules_from_json(current.rules_json), version=parsed.version)
        if unchanged == parsed:
            return current
    latest = session.scalar(
        select(func.max(RuleSetRecord.version)).where(RuleSetRecord.community_id == community.id)
    )
    version = max(latest or 0, community.current_rule_version) + 1
    stored = dataclasses.replace(parsed, version=version)
    record = RuleSetRecord(
        community_id=community.id,
        version=version,
        rules_json=stored.to_json(),
        created_by=actor[:64],
    )
    session.add(record)
    previous = community.current_rule_version
    community.current_rule_version = version
    record_event(
        session,
        actor=actor,
        action="rules.save",
        community_id=community.id,
        subject_type="rule_set",
        subject_id=version,
        reason=reason,
        details={"previous_version": previous, "rules": stored.to_dict()},
    )
    session.flush()
    return record


# --- signing keys -------------------------------------------------------------------------------


def community_key(session: Session, community: Community, key_id: int) -> SigningKeyRecord:
    """The community's key ``key_id``; :class:`CommunityError` if it is not the community's."""
    record = session.get(SigningKeyRecord, key_id)
    if record is None or record.community_id != community.id:
        raise CommunityError("no_signing_key", community=community.code, key_id=key_id)
    return record


def retire_signing_key(
    session: Session,
    record: SigningKeyRecord,
    *,
    actor: str,
    now: datetime,
    backup_to: Path | None = None,
) -> None:
    """Stop signing with the key; passes it signed stay valid until they expire.

    The private key leaves the server: its keyring file is deleted once the retirement is
    committed (a retired key that stays on disk could still sign "backdated" passes if the
    machine is stolen). ``backup_to``: first copy the keyring there (mode 0600, a path that
    does not exist yet, e.g. on a USB stick the admin keeps offline).

    Only an active key can be retired (CommunityError otherwise). Audited as ``key.retire``.
    """
    if record.status is not KeyStatus.ACTIVE:
        raise CommunityError("key_not_active", key_id=record.key_id, status=record.status.value)
    private_file = Path(record.private_key_path) if record.private_key_path else None
    if backup_to is not None and private_file is not None:
        _copy_private(private_file, backup_to)
    record.status = KeyStatus.RETIRED
    record.retired_at = now
    if record.not_after is None or record.not_after > now:
        record.not_after = now
    record.private_key_path = None
    if private_file is not None:
        after_commit(session, lambda: private_file.unlink(missing_ok=True))
    record_event(
        session,
        actor=actor,
        action="key.retire",
        community_id=record.community_id,
        subject_type="signing_key",
        subject_id=record.key_id,
        details={
            "private_key": "removed" if private_file is not None else "not on this server",
            "backup": str(backup_to) if backup_to is not None and private_file else None,
        },
    )
    session.flush()


def _copy_private(source: Path, target: Path) -> None:
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise CommunityError("private_key_missing", path=str(source)) from None
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommunityError("backup_exists", path=str(target)) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def revoke_signing_key(
    session: Session, record: SigningKeyRecord, *, actor: str, reason: str, now: datetime
) -> None:
    """Distrust the key: every pass it signed is refused (``key_revoked``) from now on.

    For a key that leaked. ``reason`` is required. Revoking twice raises CommunityError.
    Audited as ``key.revoke``.
    """
    if not reason.strip():
        raise CommunityError("revoke_needs_reason")
    if record.status is KeyStatus.REVOKED:
        raise CommunityError("key_already_revoked", key_id=record.key_id)
    previous = record.status
    record.status = KeyStatus.REVOKED
    record.revoked_at = now
    record_event(
        session,
        actor=actor,
        action="key.revoke",
        community_id=record.community_id,
        subject_type="signing_key",
        subject_id=record.key_id,
        reason=reason,
        details={"previous_status": previous.value},
    )
    session.flush()
