"""The office navigation in ``base.html``: links to the pages that exist and the user may open.

Feature blueprints land independently, so each item names candidate endpoints; the first that
is registered (and takes no URL arguments) is linked. Who may see it is read from the view's
:func:`gate.web.auth.require_role` (so navigation and access cannot disagree); a view without it
is shown to every logged-in user.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from gate.accounts.models import Role
from gate.web.auth import ROLES_ATTRIBUTE, Account, current_account, has_role


@dataclass(frozen=True)
class NavItem:
    """One link: its label and the endpoints that may serve it, best first."""

    label: LazyString
    endpoints: tuple[str, ...]


@dataclass(frozen=True)
class NavLink:
    """A link as the template renders it."""

    label: str
    url: str
    active: bool


@dataclass(frozen=True)
class NavGroup:
    """Pages that belong to one kind of work, shown together between dividers (so twenty
    links read as four short rows, not one long one)."""

    label: LazyString
    items: tuple[NavItem, ...]


@dataclass(frozen=True)
class NavSection:
    """A group as the template renders it: its label (for screen readers) and its links."""

    label: str
    links: list[NavLink]


NAV_GROUPS: tuple[NavGroup, ...] = (
    NavGroup(
        _l("Daily work"),
        (
            NavItem(_l("District"), ("console.district",)),
            NavItem(_l("Overview"), ("console.dashboard",)),
            NavItem(
                _l("Crossing log"), ("console.log", "console.crossings", "console.crossing_log")
            ),
            NavItem(_l("Reports"), ("console.reports", "console.report")),
            NavItem(_l("Gate view"), ("gateview.screen", "gateview.index", "gateview.gate")),
        ),
    ),
    NavGroup(
        _l("Residents"),
        (
            NavItem(_l("Households"), ("console.households", "console.household_list")),
            NavItem(_l("Passes"), ("console.passes", "console.passes_print")),
            NavItem(_l("Quarantine"), ("console.quarantine", "console.quarantine_list")),
            NavItem(_l("Errands"), ("console.errands",)),
            NavItem(_l("My errands"), ("console.my_errands",)),
            NavItem(_l("Visitors"), ("console.visitors",)),
            NavItem(_l("Vehicles"), ("console.vehicles",)),
        ),
    ),
    NavGroup(
        _l("Gate duty"),
        (
            NavItem(_l("Duty roster"), ("console.roster",)),
            NavItem(_l("Lockdown zones"), ("console.zones",)),
            NavItem(_l("Devices"), ("console.devices", "console.device_list")),
            NavItem(_l("Supervisor cards"), ("console.supervisor_cards",)),
        ),
    ),
    NavGroup(
        _l("Settings"),
        (
            NavItem(_l("Rules"), ("console.rules", "console.rule_list")),
            NavItem(_l("Site"), ("console.site",)),
            NavItem(_l("Users"), ("console.users", "console.user_list")),
            NavItem(_l("Audit trail"), ("console.audit", "console.audit_trail")),
        ),
    ),
)
NAV_ITEMS: tuple[NavItem, ...] = tuple(item for group in NAV_GROUPS for item in group.items)
"""Every link in menu order."""


DISTRICT_ENDPOINTS = frozenset({"console.district"})
"""Shown only to accounts of several communities."""


def configure_navigation(app: Flask) -> None:
    """Expose ``nav_items()`` and ``nav_sections()`` to templates."""
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["nav_sections"] = nav_sections


def nav_items() -> list[NavLink]:
    """The links the logged-in user may follow, in menu order (none when anonymous)."""
    return [link for section in nav_sections() for link in section.links]


def nav_sections() -> list[NavSection]:
    """The menu's groups with the links the logged-in user may follow; groups left empty
    are left out (none when anonymous)."""
    account = current_account()
    if account is None:
        return []
    sections = []
    for group in NAV_GROUPS:
        links = [link for item in group.items if (link := _link(account, item)) is not None]
        if links:
            sections.append(NavSection(str(group.label), links))
    return sections


def _link(account: Account, item: NavItem) -> NavLink | None:
    if item.endpoints[0] in DISTRICT_ENDPOINTS and not account.is_district:
        return None
    endpoint = next((e for e in item.endpoints if may_open(account, e)), None)
    if endpoint is None:
        return None
    return NavLink(str(item.label), url_for(endpoint), active=request.endpoint == endpoint)


def _takes_no_arguments(endpoint: str) -> bool:
    rules = current_app.url_map.iter_rules(endpoint)
    return any(not rule.arguments and "GET" in (rule.methods or ()) for rule in rules)


def _required_roles(endpoint: str) -> tuple[Role, ...]:
    view = current_app.view_functions[endpoint]
    roles = getattr(view, ROLES_ATTRIBUTE, ())
    return tuple(roles)


def may_open(account: Account, endpoint: str) -> bool:
    """Whether ``endpoint`` exists, takes no URL arguments, and admits ``account``."""
    return (
        endpoint in current_app.view_functions
        and _takes_no_arguments(endpoint)
        and has_role(account, *_required_roles(endpoint))
    )
