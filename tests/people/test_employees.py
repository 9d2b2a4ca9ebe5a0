# SPDX-License-Identifier: GPL-2.0-or-later
"""Employee pages: list, detail, create, edit, terminate, areas (issue #6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.devices.models import TerminalCommand
from server.employees.models import Employee, employee_areas
from server.enrolment.models import BiometricTemplate
from tests.conftest import csrf_token


def _events(db: Session, action: str, employee_id: int | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    if employee_id is not None:
        stmt = stmt.where(AuditEvent.subject_employee_id == employee_id)
    return list(db.scalars(stmt))


def _codes(page: str) -> list[str]:
    return re.findall(r'/employees/\d+">(E[^<]+)</a>', page)


def test_the_list_shows_everyone_to_an_administrator(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any]
) -> None:
    sign_in("admin")
    page = client.get("/employees").get_data(as_text=True)
    assert _codes(page) == ["E100", "E200"]
    assert "Lopez" in page


def test_a_scoped_hr_manager_sees_only_their_departments(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any], db: Session
) -> None:
    db.add(Employee(employee_code="E300", given_name="No", family_name="Department"))
    db.commit()
    sign_in("hr_manager", departments=(org["plant"],))
    page = client.get("/employees?status=").get_data(as_text=True)
    assert _codes(page) == ["E100"]  # Assembly is below Plant; Office and no-department hidden
    assert client.get(f"/employees/{org['bo'].id}").status_code == 404
    assert client.get(f"/employees/{org['bo'].id}/edit").status_code == 404


def test_search_and_filters(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any], db: Session
) -> None:
    sign_in("hr_viewer")
    assert _codes(client.get("/employees?q=e2").get_data(as_text=True)) == ["E200"]
    assert _codes(client.get("/employees?q=lop").get_data(as_text=True)) == ["E100"]
    assert _codes(client.get("/employees?q=ana+lopez").get_data(as_text=True)) == ["E100"]
    assert _codes(client.get("/employees?q=%25").get_data(as_text=True)) == []  # no wildcard
    plant = org["plant"].id
    assert _codes(client.get(f"/employees?department={plant}").get_data(as_text=True)) == ["E100"]
    db.execute(employee_areas.insert(), [{"employee_id": org["bo"].id, "area_id": org["gate"].id}])
    org["ana"].status = "terminated"
    db.commit()
    assert _codes(client.get(f"/employees?area={org['gate'].id}").get_data(as_text=True)) == [
        "E200"
    ]
    assert _codes(client.get("/employees").get_data(as_text=True)) == ["E200"]  # active only
    assert _codes(client.get("/employees?status=terminated").get_data(as_text=True)) == ["E100"]


def test_pages_follow_the_employee_code(
    client: Any, sign_in: Callable[..., Any], db: Session
) -> None:
    db.add_all(
        Employee(employee_code=f"E{i:04d}", given_name="P", family_name=f"N{i}") for i in range(60)
    )
    db.commit()
    sign_in("hr_viewer")
    first = client.get("/employees").get_data(as_text=True)
    assert _codes(first) == [f"E{i:04d}" for i in range(50)]
    assert 'rel="prev"' not in first
    next_url = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', first)
    assert next_url
    second = client.get(next_url.group(2).replace("&amp;", "&")).get_data(as_text=True)
    assert _codes(second) == [f"E{i:04d}" for i in range(50, 60)]
    assert 'rel="next"' not in second
    back = re.search(r'rel="prev" href="([^"]+)"', second)
    assert back
    assert _codes(client.get(back.group(1).replace("&amp;", "&")).get_data(as_text=True)) == [
        f"E{i:04d}" for i in range(50)
    ]


def test_the_detail_page_is_audited_and_shows_no_template(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any], db: Session
) -> None:
    viewer = sign_in("privacy_officer")
    ana = org["ana"]
    response = client.get(f"/employees/{ana.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Ana Lopez" in page
    assert 'id="biometrics"' in page
    assert "No templates stored." in page
    assert "none for the current notice" in page
    events = _events(db, "employee.viewed", ana.id)
    assert len(events) == 1
    assert events[0].actor_account_id == viewer.id
    assert "Edit" not in re.sub(r"<title>.*?</title>", "", page)  # read-only role: no edit links


def test_an_hr_manager_adds_an_employee(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager")
    response = post(
        "/employees/new",
        {
            "employee_code": "E500",
            "given_name": "Mei",
            "family_name": "Wang",
            "department_id": str(org["office"].id),
            "verify_mode": "card",
            "device_privilege": "0",
            "locale": "zh_CN",
            "hire_date": "2026-01-05",
            "card_number": "12345",
        },
        page="/employees/new",
    )
    assert response.status_code == 302
    mei = db.scalar(select(Employee).where(Employee.employee_code == "E500"))
    assert mei is not None
    assert mei.department_id == org["office"].id
    assert mei.card_number == "12345"
    assert mei.status == "active"
    assert len(_events(db, "employee.created", mei.id)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"family_name": ""}, "This field is required."),
        ({"employee_code": "E100"}, "Another employee has this employee code."),
        ({"card_number": "12ab"}, "A card number is digits only."),
        ({"hire_date": "05/01/2026"}, "Not a valid date value."),
    ],
)
def test_a_bad_employee_form_changes_nothing(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
    change: dict[str, str],
    message: str,
) -> None:
    sign_in("hr_manager")
    before = db.scalar(select(func.count()).select_from(Employee))
    data = {
        "employee_code": "E501",
        "given_name": "Mei",
        "family_name": "Wang",
        "department_id": "",
        "verify_mode": "card",
        "device_privilege": "0",
        "locale": "",
    }
    response = post("/employees/new", {**data, **change}, page="/employees/new")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Employee)) == before
    assert _events(db, "employee.created") == []


def test_a_scoped_manager_cannot_place_people_outside_their_scope(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager", departments=(org["plant"],))
    form = client.get("/employees/new").get_data(as_text=True)
    assert "Office" not in form
    assert "(no department)" not in form
    base = {
        "employee_code": "E502",
        "given_name": "Mei",
        "family_name": "Wang",
        "verify_mode": "card",
        "device_privilege": "0",
        "locale": "",
    }
    for department in (str(org["office"].id), ""):
        response = post(
            "/employees/new", {**base, "department_id": department}, page="/employees/new"
        )
        assert response.status_code == 422
    assert db.scalar(select(Employee).where(Employee.employee_code == "E502")) is None
    # Nor edit someone of another department, even by posting directly.
    response = post(
        f"/employees/{org['bo'].id}/edit",
        {**base, "employee_code": "E200"},
        page="/employees",
    )
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Employee, org["bo"].id).given_name == "Bo"  # type: ignore[union-attr]


def test_editing_saves_the_changes_and_audits_the_fields(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager", departments=(org["plant"],))
    ana = org["ana"]
    form = client.get(f"/employees/{ana.id}/edit").get_data(as_text=True)
    assert 'value="Lopez"' in form
    response = post(
        f"/employees/{ana.id}/edit",
        {
            "employee_code": "E100",
            "given_name": "Ana María",
            "family_name": "Lopez",
            "department_id": str(org["assembly"].id),
            "verify_mode": "card",
            "device_privilege": "0",
            "locale": "",
        },
        page=f"/employees/{ana.id}/edit",
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Employee, ana.id).given_name == "Ana María"  # type: ignore[union-attr]
    [event] = _events(db, "employee.updated", ana.id)
    assert event.details == {"fields": "given_name"}


def test_an_hr_viewer_cannot_change_anyone(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_viewer")
    ana = org["ana"]
    assert client.get("/employees/new").status_code == 403
    assert client.get(f"/employees/{ana.id}/edit").status_code == 403
    for url, data in (
        ("/employees/new", {"employee_code": "E9", "given_name": "X", "family_name": "Y"}),
        (
            f"/employees/{ana.id}/edit",
            {"employee_code": "E100", "given_name": "X", "family_name": "Y"},
        ),
        (f"/employees/{ana.id}/terminate", {"on": "2026-02-01"}),
        (f"/employees/{ana.id}/areas", {"area_ids": str(org["gate"].id)}),
        (
            "/employees/import/confirm",
            {"content": "employee_code,given_name,family_name\nE9,X,Y\n"},
        ),
    ):
        assert post(url, data, page="/employees").status_code == 403, url
    db.expire_all()
    assert db.get(Employee, ana.id).given_name == "Ana"  # type: ignore[union-attr]
    assert db.get(Employee, ana.id).status == "active"  # type: ignore[union-attr]
    assert db.scalar(select(Employee).where(Employee.employee_code == "E9")) is None


def test_terminating_an_employee(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager")
    ana = org["ana"]
    response = post(
        f"/employees/{ana.id}/terminate", {"on": "2026-03-31"}, page=f"/employees/{ana.id}"
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Employee, ana.id).status == "terminated"  # type: ignore[union-attr]
    assert len(_events(db, "employee.terminated", ana.id)) == 1
    # A second time is refused with a message, and changes nothing.
    again = post(
        f"/employees/{ana.id}/terminate", {"on": "2026-04-30"}, page=f"/employees/{ana.id}"
    )
    assert again.status_code == 302
    db.expire_all()
    assert str(db.get(Employee, ana.id).termination_date) == "2026-03-31"  # type: ignore[union-attr]


def test_setting_areas_goes_through_distribution(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager")
    ana = org["ana"]
    page = client.get(f"/employees/{ana.id}/areas").get_data(as_text=True)
    assert "Main gate" in page
    response = post(
        f"/employees/{ana.id}/areas",
        {"area_ids": str(org["gate"].id)},
        page=f"/employees/{ana.id}/areas",
    )
    assert response.status_code == 302
    areas = db.scalars(
        select(employee_areas.c.area_id).where(employee_areas.c.employee_id == ana.id)
    ).all()
    assert list(areas) == [org["gate"].id]
    assert len(_events(db, "employee.areas_changed", ana.id)) == 1
    bad = post(
        f"/employees/{ana.id}/areas",
        {"area_ids": "999999"},
        page=f"/employees/{ana.id}/areas",
    )
    assert bad.status_code == 422
    assert len(_events(db, "employee.areas_changed", ana.id)) == 1


def test_the_pages_render_in_chinese(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any]
) -> None:
    sign_in("admin", locale="zh_CN")
    listing = client.get("/employees").get_data(as_text=True)
    assert '<html lang="zh-CN">' in listing
    assert "添加员工" in listing
    detail = client.get(f"/employees/{org['ana'].id}").get_data(as_text=True)
    assert "最近打卡" in detail


def test_moving_an_enrolled_employee_between_areas_needs_the_biometric_permission(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    ana = org["ana"]
    db.add(
        BiometricTemplate(
            employee_id=ana.id,
            kind="finger",
            template_index=1,
            format_version="10",
            ciphertext=b"sealed elsewhere",
        )
    )
    db.commit()
    sign_in("hr_manager")  # edits people, without the biometric permission
    refused = post(
        f"/employees/{ana.id}/areas",
        {"area_ids": str(org["gate"].id)},
        page=f"/employees/{ana.id}/areas",
    )
    assert refused.status_code == 403
    assert "biometric permission" in refused.get_data(as_text=True)
    assert _areas(db, ana.id) == []
    assert not db.scalar(select(func.count()).select_from(TerminalCommand))
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    sign_in("hr_manager", biometric_permission=True)
    allowed = post(
        f"/employees/{ana.id}/areas",
        {"area_ids": str(org["gate"].id)},
        page=f"/employees/{ana.id}/areas",
    )
    assert allowed.status_code == 302
    assert _areas(db, ana.id) == [org["gate"].id]


def _areas(db: Session, employee_id: int) -> list[int]:
    db.expire_all()
    return list(
        db.scalars(
            select(employee_areas.c.area_id).where(employee_areas.c.employee_id == employee_id)
        )
    )
