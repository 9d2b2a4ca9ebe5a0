# SPDX-License-Identifier: GPL-2.0-or-later
"""The main navigation in the page header (issue #6).

An item shows when its endpoint exists and the view's ``require_role`` admits the signed-in
account, so a link is never offered to someone its page would refuse. To add a page to the
header, add one :class:`NavItem` to :data:`NAV` (in the order it should appear).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext as _l

from server.auth.models import Role
from server.web import current_account, has_biometric_permission


@dataclass(frozen=True, slots=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when rendered
    # Endpoint prefixes that mark the item current; default: the endpoint's blueprint.
    match: tuple[str, ...] = ()

    def is_current(self, endpoint: str | None) -> bool:
        if not endpoint:
            return False
        prefixes = self.match or (self.endpoint.rsplit(".", 1)[0] + ".",)
        return any(endpoint.startswith(p) for p in prefixes)


NAV: tuple[NavItem, ...] = (
    NavItem("dashboard.index", _l("Dashboard")),
    NavItem("employees.index", _l("Employees")),
    NavItem("punches.index", _l("Punches")),
    NavItem("terminals.index", _l("Terminals")),
    NavItem("organization.departments", _l("Departments"), ("organization.department",)),
    NavItem("organization.areas", _l("Areas"), ("organization.area",)),
    NavItem("accounts.index", _l("Accounts")),
    NavItem("privacy.notices", _l("Privacy"), ("privacy.",)),
    NavItem("rights.requests", _l("Requests"), ("rights.",)),
    NavItem("audit.index", _l("Operation log"), ("audit.",)),
    NavItem("settings.index", _l("Settings"), ("settings.",)),
)

ROLE_LABELS: dict[str, object] = {
    Role.ADMIN: _l("Administrator"),
    Role.HR_MANAGER: _l("HR manager"),
    Role.HR_VIEWER: _l("HR viewer"),
    Role.PRIVACY_OFFICER: _l("Privacy officer"),
    Role.AUDITOR: _l("Auditor"),
}


@dataclass(frozen=True, slots=True)
class NavLink:
    url: str
    label: object
    current: bool


def allowed(endpoint: str) -> bool:
    """Whether the signed-in account may open ``endpoint`` (per its ``require_role``)."""
    account = current_account()
    view = current_app.view_functions.get(endpoint)
    if account is None or view is None:
        return False
    roles = getattr(view, "required_roles", None)
    return roles is None or Role(account.role) in roles


def nav_links() -> list[NavLink]:
    return [
        NavLink(url_for(item.endpoint), item.label, item.is_current(request.endpoint))
        for item in NAV
        if allowed(item.endpoint)
    ]


def role_label(role: str) -> object:
    return ROLE_LABELS.get(role, role)


def init_app(app: Flask) -> None:
    app.add_template_global(nav_links)
    app.add_template_global(role_label)
    app.add_template_global(allowed, "can_open")
    app.add_template_global(has_biometric_permission)
