"""The office console: server-rendered pages for the registry, passes, rules, the crossing
log, devices, users and the audit trail.

One views module per area; every view checks the role and scopes every query to the user's
community (another community's rows answer 404). Work is done by the feature packages'
operations; views translate HTTP.
"""

from __future__ import annotations

from flask import Blueprint

console = Blueprint("console", __name__, url_prefix="/")

from gate.console import (  # noqa: E402  (views register routes on the blueprint above)
    audit_trail,
    dashboard,
    devices,
    district,
    errands,
    households,
    log,
    passes,
    privacy,
    roster,
    rules,
    site,
    supervisor_cards,
    users,
    vehicles,
    visitors,
    zones,
)

__all__ = [
    "audit_trail",
    "console",
    "dashboard",
    "devices",
    "district",
    "errands",
    "households",
    "log",
    "passes",
    "privacy",
    "roster",
    "rules",
    "site",
    "supervisor_cards",
    "users",
    "vehicles",
    "visitors",
    "zones",
]
