# SPDX-License-Identifier: GPL-2.0-or-later
"""Every page that shows an employee's personal data writes a view entry (#6 review): the
edit form (contact details, date of birth), the areas form and the consent page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent


def views(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "employee.viewed")))


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("hr_manager", "/employees/{id}/edit"),
        ("hr_manager", "/employees/{id}/areas"),
        ("privacy_officer", "/privacy/consent?employee={code}"),
        ("auditor", "/privacy/consent?employee={code}"),
    ],
)
def test_a_page_showing_an_employee_logs_one_view_of_them(
    client: Any,
    sign_in: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
    role: str,
    page: str,
) -> None:
    viewer = sign_in(role)
    ana = org["ana"]
    before = len(views(db))
    response = client.get(page.format(id=ana.id, code=ana.employee_code))
    assert response.status_code == 200
    assert "Lopez" in response.get_data(as_text=True)
    new = views(db)[before:]
    assert len(new) == 1
    assert new[0].subject_employee_id == ana.id
    assert (new[0].object_type, new[0].object_id) == ("employee", str(ana.id))
    assert new[0].actor_account_id == viewer.id


def test_the_consent_page_without_an_employee_logs_no_view(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any], db: Session
) -> None:
    sign_in("privacy_officer")
    assert client.get("/privacy/consent").status_code == 200
    assert client.get("/privacy/consent?employee=NOPE").status_code == 200
    assert views(db) == []
