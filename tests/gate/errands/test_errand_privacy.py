"""Errands and the privacy feature (SQLite and PostgreSQL): a household's data export has its
errands sheet, and the purge deletes the errands of the households it deletes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Compound
from errand_site import errand_compound, errands
from openpyxl import load_workbook
from sqlalchemy import Engine

from gate.accounts.models import Role
from gate.db import transaction
from gate.errands.operations import create_errand
from gate.errands.status import Doer
from gate.privacy.export import export_household
from gate.privacy.purge import _purge_households


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    with errand_compound(db_url, tmp_path) as built:
        with transaction(built.sessions) as session:
            create_errand(
                session,
                community_id=built.community_id,
                household_code=built.residents[0].code,
                kind="medicine",
                text="降压药两盒",
                by=Doer("office1", role=Role.OFFICE),
                now=built.clock(),
            )
        yield built


def test_the_household_export_lists_its_errands(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        data, counts = export_household(
            session,
            compound.community_id,
            compound.residents[0].code,
            unmasked=False,
            actor="office1",
        )
    assert counts["代购代办"] == 1
    sheet = load_workbook(io.BytesIO(data))["代购代办"]
    rows = list(sheet.iter_rows(values_only=True))
    assert "text" in rows[0]
    assert "降压药两盒" in rows[1]
    with transaction(compound.sessions) as session:
        _, other = export_household(
            session,
            compound.community_id,
            compound.residents[1].code,
            unmasked=False,
            actor="office1",
        )
    assert other["代购代办"] == 0


def test_the_purge_deletes_the_errands_of_purged_households(compound: Compound) -> None:
    assert len(errands(compound)) == 1
    deleted: dict[str, int] = {}
    with transaction(compound.sessions) as session:
        _purge_households(session, compound.community_id, deleted)
    assert deleted["errands"] == 1
    assert errands(compound) == []
