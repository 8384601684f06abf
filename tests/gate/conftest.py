"""Fixtures for gate tests: a few ready-made rows on top of the shared ``db_session``.

The database fixtures themselves (``db_session``, ``db_session_factory``,
``committed_engine``, ``fresh_db_url``) live in ``tests/conftest.py``; a test that uses any of
them runs on SQLite and on PostgreSQL. Build other rows with the functions in ``factories``.
"""

from __future__ import annotations

import pytest
from factories import make_community, make_device, make_household
from sqlalchemy.orm import Session

from gate.community.models import Community
from gate.devices.models import Device
from gate.households.models import Household


@pytest.fixture
def community(db_session: Session) -> Community:
    """A community with default settings (Asia/Shanghai, built-in rules)."""
    return make_community(db_session)


@pytest.fixture
def household(db_session: Session, community: Community) -> Household:
    """A normal household of ``community`` with two members."""
    return make_household(db_session, community=community, members=2)


@pytest.fixture
def device(db_session: Session, community: Community) -> Device:
    """An enrolled scanner at a new gate of ``community``."""
    return make_device(db_session, community=community)
