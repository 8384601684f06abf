"""Every model module, imported so that ``Base.metadata`` describes the whole schema.

Alembic's env and the tests import this module; application code imports the feature
modules it needs.
"""

from __future__ import annotations

from gate.accounts.models import LoginAttempt, Membership, Role, SetupToken, User
from gate.audit.models import AuditEvent
from gate.community.models import Area, Building, Community, Compound, Grid, RuleSet
from gate.crossings.models import Crossing
from gate.db import Base
from gate.devices.models import Device, Gate
from gate.errands.models import Errand, ErrandSquad, ErrandSquadMember
from gate.households.models import Household, Member
from gate.households.status_history import HouseholdStatusChange
from gate.issuing.models import IssuedPass, PassStatus
from gate.privacy.models import CommunityRetention
from gate.roster.models import DutyAssignment, DutyShift
from gate.signing.models import SigningKeyRecord
from gate.supervisors.models import SupervisorCardRecord
from gate.vehicles.models import Vehicle, VehiclePassRecord
from gate.verification.models import ChainBase
from gate.visitors.models import VisitorPassRecord, WalkIn
from gate.zones.models import ZoneLockRecord

metadata = Base.metadata

__all__ = [
    "Area",
    "AuditEvent",
    "Base",
    "Building",
    "ChainBase",
    "Community",
    "CommunityRetention",
    "Compound",
    "Crossing",
    "Device",
    "DutyAssignment",
    "DutyShift",
    "Errand",
    "ErrandSquad",
    "ErrandSquadMember",
    "Gate",
    "Grid",
    "Household",
    "HouseholdStatusChange",
    "IssuedPass",
    "LoginAttempt",
    "Member",
    "Membership",
    "PassStatus",
    "Role",
    "RuleSet",
    "SetupToken",
    "SigningKeyRecord",
    "SupervisorCardRecord",
    "User",
    "Vehicle",
    "VehiclePassRecord",
    "VisitorPassRecord",
    "WalkIn",
    "ZoneLockRecord",
    "metadata",
]
