# SPDX-License-Identifier: GPL-2.0-or-later
"""Every endpoint, for every role and for someone not signed in (#6).

The policy is declared here, apart from the views' own decorators, so a view that grants
too much or too little fails; an endpoint missing from the table fails too, so a new page
cannot arrive without a decision about who may open it. Allowed calls are made with
placeholder ids and empty forms: they must answer without a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from tests.conftest import csrf_token

ADMIN, HRM, HRV, DPO, AUD = "admin", "hr_manager", "hr_viewer", "privacy_officer", "auditor"
EVERYONE = frozenset({ADMIN, HRM, HRV, DPO, AUD})
ONLY_ADMIN = frozenset({ADMIN})
HR_EDIT = frozenset({ADMIN, HRM})
HR_READ = frozenset({ADMIN, HRM, HRV})
PRIVACY = frozenset({ADMIN, DPO})
PRIVACY_READ = frozenset({ADMIN, DPO, AUD})
RECTIFY = frozenset({ADMIN, HRM, DPO})
PUBLIC = "public"

POLICY: dict[str, frozenset[str] | str] = {
    # signing in and the language switch
    "auth.login": PUBLIC,
    "auth.second_factor": PUBLIC,
    "i18n.set_language": PUBLIC,
    "system.health": PUBLIC,
    "auth.logout": EVERYONE,
    "auth.change_password": EVERYONE,
    # one's own security
    "security.token_list": EVERYONE,
    "security.token_create": EVERYONE,
    "security.token_revoke": EVERYONE,
    "security.two_factor": EVERYONE,
    "security.two_factor_setup": EVERYONE,
    "security.two_factor_confirm": EVERYONE,
    "security.two_factor_disable": EVERYONE,
    "security.two_factor_recovery_codes": EVERYONE,
    "security.two_factor_reset": ONLY_ADMIN,
    # administration
    "accounts.index": ONLY_ADMIN,
    "accounts.new": ONLY_ADMIN,
    "accounts.edit": ONLY_ADMIN,
    "accounts.activate": ONLY_ADMIN,
    "accounts.deactivate": ONLY_ADMIN,
    "accounts.reset_password": ONLY_ADMIN,
    "settings.index": ONLY_ADMIN,
    # people and organization: everyone reads, HR managers change
    "dashboard.index": EVERYONE,
    "employees.index": EVERYONE,
    "employees.show": EVERYONE,
    "employees.new": HR_EDIT,
    "employees.edit": HR_EDIT,
    "employees.areas": HR_EDIT,
    "employees.terminate": HR_EDIT,
    "employees.import_file": HR_EDIT,
    "employees.import_confirm": HR_EDIT,
    "organization.departments": EVERYONE,
    "organization.department_create": HR_EDIT,
    "organization.department_edit": HR_EDIT,
    "organization.department_delete": HR_EDIT,
    "organization.areas": EVERYONE,
    "organization.area_create": HR_EDIT,
    "organization.area_edit": HR_EDIT,
    # terminals: everyone looks, HR operates, the administrator installs
    "terminals.index": EVERYONE,
    "terminals.show": EVERYONE,
    "terminals.outbox": EVERYONE,
    "terminals.pins": EVERYONE,
    "terminals.sync_progress": EVERYONE,
    "terminals.sync": HR_EDIT,
    "terminals.test": HR_EDIT,
    "terminals.assign": HR_EDIT,
    # Biometric: HR managers only with the biometric permission, which the walker lacks
    # (tests/test_scope.py gives it and sees the door open).
    "terminals.enrol": ONLY_ADMIN,
    "terminals.new": ONLY_ADMIN,
    "terminals.create": ONLY_ADMIN,
    "terminals.place": ONLY_ADMIN,
    # punches: exports are for HR, not for the privacy officer or the auditor
    "punches.index": EVERYONE,
    "punches.new": HR_EDIT,
    "punches.create": HR_EDIT,
    "punches.export": HR_READ,
    # corrections (#7): everyone reads within scope; HR managers and the privacy officer
    # propose and decide (four eyes: never on their own proposal)
    "punches.detail": EVERYONE,
    "punches.pending": EVERYONE,
    "punches.propose": RECTIFY,
    "punches.approve": RECTIFY,
    "punches.reject": RECTIFY,
    # privacy and employees' rights
    "privacy.notices": PRIVACY_READ,
    "privacy.consent": PRIVACY_READ,
    "privacy.create_notice": PRIVACY,
    "privacy.publish": PRIVACY,
    "privacy.record": PRIVACY,
    "privacy.withdraw": PRIVACY,
    "rights.requests": PRIVACY_READ,
    "rights.show": PRIVACY_READ,
    "rights.register_export": PRIVACY_READ,
    "rights.create": PRIVACY,
    "rights.verify": PRIVACY,
    "rights.start": PRIVACY,
    "rights.extend": PRIVACY,
    "rights.refuse": PRIVACY,
    "rights.complete": PRIVACY,
    "rights.package": PRIVACY,
    "rights.restrict": PRIVACY,
    "rights.lift": PRIVACY,
    "rights.erase": PRIVACY,
    "rights.retry_erasure": PRIVACY,
    "rights.confirm_terminal": PRIVACY,
    "rights.download": PRIVACY,
    "audit.index": PRIVACY_READ,
    "audit.verify": PRIVACY_READ,
    # the API: the same decisions as the pages
    "api.me": EVERYONE,
    "api.openapi": EVERYONE,
    "api.list_employees": EVERYONE,
    "api.get_employee": EVERYONE,
    "api.list_terminals": EVERYONE,
    "api.get_terminal": EVERYONE,
    "api.terminal_outbox": EVERYONE,
    "api.sync_terminal": HR_EDIT,
    "api.list_punches": EVERYONE,
    "api.list_corrections": EVERYONE,
    "api.propose_correction": RECTIFY,
    "api.approve_correction": RECTIFY,
    "api.reject_correction": RECTIFY,
    "api.list_requests": PRIVACY_READ,
    "api.get_request": PRIVACY_READ,
    "api.deadlines": PRIVACY_READ,
    "api.create_request": PRIVACY,
    "api.verify_identity": PRIVACY,
    "api.start_request": PRIVACY,
    "api.extend_request": PRIVACY,
    "api.refuse_request": PRIVACY,
    "api.complete_request": PRIVACY,
    "api.access_package": PRIVACY,
    "api.erase": PRIVACY,
    "api.get_erasure": PRIVACY_READ,
    "api.restrict": PRIVACY,
    "api.lift": PRIVACY,
    "api.retry_erasure": PRIVACY,
    "api.confirm_terminal": PRIVACY,
    "api.erasure_receipt": PRIVACY_READ,
    "api.verify_log": PRIVACY_READ,
    "api.list_audit_events": PRIVACY_READ,
    "api.create_employee": HR_EDIT,
    "api.update_employee": HR_EDIT,
    "api.terminate_employee": HR_EDIT,
    "api.list_departments": EVERYONE,
    "api.list_areas": EVERYONE,
    "api.enter_punch": HR_EDIT,
    "api.dashboard": EVERYONE,
    "api.add_terminal": ONLY_ADMIN,
    "api.check_terminal": HR_EDIT,
}

# Walked separately: signing out would end the walk's session.
WALKED_LAST = {"auth.logout"}


def _rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _url(rule: Rule) -> str:
    values = {
        name: 999_999 if type(conv).__name__ == "IntegerConverter" else "zz"
        for name, conv in rule._converters.items()  # werkzeug's own table
    }
    path = rule.build(values, append_unknown=False)
    assert path is not None
    return path[1]


def test_every_endpoint_has_a_declared_policy(app: Flask) -> None:
    endpoints = {r.endpoint for r in _rules(app)}
    assert sorted(endpoints - POLICY.keys()) == []  # a new endpoint needs a line above
    assert sorted(POLICY.keys() - endpoints) == []  # and a removed one loses its line


def _call(client: Any, rule: Rule, method: str, token: str) -> Any:
    url = _url(rule)
    api = url.startswith("/api/")
    headers = {"Accept": "application/json"} if api else {}
    if method == "GET":
        return client.get(url, headers=headers)
    if api:
        return client.open(url, method=method, json={}, headers={**headers, "X-CSRFToken": token})
    return client.open(url, method=method, data={"csrf_token": token})


@pytest.mark.parametrize("role", [*sorted(EVERYONE), None])
def test_each_role_reaches_exactly_what_the_policy_gives_it(
    app: Flask,
    client: Any,
    login: Callable[[str, str], Any],
    create_account: Callable[..., Any],
    role: str | None,
) -> None:
    if role is not None:
        create_account(username="walker", role=role)
        assert login("walker", "correct horse battery").status_code == 302
    page = "/account/password" if role is not None else "/login"
    token = csrf_token(client.get(page).get_data(as_text=True))
    wrong: list[str] = []
    walked: set[tuple[str, str]] = set()
    for rule in _rules(app):
        if rule.endpoint in WALKED_LAST:
            continue
        policy = POLICY[rule.endpoint]
        # Every method the rule answers (PATCH, PUT, DELETE too), not only GET and POST:
        # a door left open on another method is a door all the same (#6 review).
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            walked.add((rule.rule, method))
            status = _call(client, rule, method, token).status_code
            where = f"{method} {rule.rule} ({rule.endpoint}) as {role or 'anonymous'}: {status}"
            if status >= 500 and status != 503:  # 503: no instance key here, said plainly
                wrong.append(f"{where}: server error")
            elif policy == PUBLIC:
                continue
            elif role is None:
                expected = 401 if rule.rule.startswith("/api/") else 302
                if status != expected:
                    wrong.append(f"{where}: expected {expected}")
            elif role in policy and status in (401, 403):
                wrong.append(f"{where}: should be allowed")
            elif role not in policy and status != 403:
                wrong.append(f"{where}: should be refused with 403")
    assert wrong == []
    assert walked == {
        (r.rule, m)
        for r in _rules(app)
        if r.endpoint not in WALKED_LAST
        for m in (r.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert {m for _, m in walked} >= {"GET", "POST", "PATCH"}
    if role is not None:
        out = client.post("/logout", data={"csrf_token": token})
        assert out.status_code == 302
        assert client.get("/").status_code == 302  # signed out: back to the sign-in page
