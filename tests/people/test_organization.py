# SPDX-License-Identifier: GPL-2.0-or-later
"""Departments and areas pages (issue #6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.devices.models import TerminalCommand
from server.organization.models import Area, Department


def _actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_departments_are_created_renamed_moved_and_deleted(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager")
    tree = client.get("/departments").get_data(as_text=True)
    assert "Assembly" in tree
    created = post(
        "/departments",
        {"code": "QA", "name": "Quality", "parent_id": str(org["plant"].id)},
        page="/departments",
    )
    assert created.status_code == 302
    qa = db.scalar(select(Department).where(Department.code == "QA"))
    assert qa is not None
    assert qa.parent_id == org["plant"].id
    moved = post(
        f"/departments/{qa.id}",
        {"code": "QA", "name": "Quality control", "parent_id": str(org["office"].id)},
        page=f"/departments/{qa.id}",
    )
    assert moved.status_code == 302
    db.expire_all()
    assert (qa.name, qa.parent_id) == ("Quality control", org["office"].id)
    assert post(f"/departments/{qa.id}/delete", page=f"/departments/{qa.id}").status_code == 302
    assert db.scalar(select(Department.id).where(Department.id == qa.id)) is None
    assert [a for a in _actions(db) if a.startswith("department.")] == [
        "department.created",
        "department.moved",
        "department.deleted",
    ]


def test_a_department_cannot_go_under_itself_and_a_used_one_stays(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("admin")
    plant = org["plant"]
    cycle = post(
        f"/departments/{plant.id}",
        {"code": "PLANT", "name": "Plant", "parent_id": str(org["assembly"].id)},
        page=f"/departments/{plant.id}",
    )
    assert cycle.status_code == 422  # the subtree is not even offered
    db.expire_all()
    assert db.get(Department, plant.id).parent_id is None  # type: ignore[union-attr]
    # Assembly has an employee; Plant has a department below it.
    for dept in (org["assembly"], plant):
        response = post(f"/departments/{dept.id}/delete", page=f"/departments/{dept.id}")
        assert response.status_code == 302
        assert db.get(Department, dept.id) is not None
    duplicate = post(
        "/departments", {"code": "OFFICE", "name": "Again", "parent_id": ""}, page="/departments"
    )
    assert duplicate.status_code == 422
    assert "A department with this code exists already." in duplicate.get_data(as_text=True)
    assert not [a for a in _actions(db) if a.startswith("department.")]


def test_a_department_in_someones_scope_cannot_be_deleted(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
) -> None:
    from server.auth.models import account_departments

    empty = Department(code="EMPTY", name="Empty")
    db.add(empty)
    db.commit()
    limited = create_account(role="hr_viewer")
    db.execute(
        account_departments.insert(), [{"account_id": limited.id, "department_id": empty.id}]
    )
    db.commit()
    sign_in("admin")
    response = post(f"/departments/{empty.id}/delete", page=f"/departments/{empty.id}")
    assert response.status_code == 302
    assert db.get(Department, empty.id) is not None  # deleting it would widen that scope


def test_viewers_and_scoped_managers_cannot_change_departments(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_viewer")
    assert client.get("/departments").status_code == 200
    assert post("/departments", {"code": "X", "name": "X"}, page="/departments").status_code == 403
    assert client.get(f"/departments/{org['plant'].id}").status_code == 403
    assert client.get("/areas").status_code == 200
    assert post("/areas", {"code": "X", "name": "X"}, page="/areas").status_code == 403
    assert db.scalar(select(Department).where(Department.code == "X")) is None


def test_a_scoped_manager_cannot_change_the_tree(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager", departments=(org["assembly"],))
    move = post(
        f"/departments/{org['office'].id}",
        {"code": "OFFICE", "name": "Office", "parent_id": str(org["assembly"].id)},
        page="/departments",
    )
    assert move.status_code == 403
    assert post("/departments", {"code": "X", "name": "X"}, page="/departments").status_code == 403
    assert db.scalar(select(Department).where(Department.code == "X")) is None


def test_areas_are_created_and_a_move_reconciles_their_terminals(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
    create_terminal: Callable[..., Any],
) -> None:
    sign_in("admin")
    created = post("/areas", {"code": "DOCK", "name": "Dock", "parent_id": ""}, page="/areas")
    assert created.status_code == 302
    dock = db.scalar(select(Area).where(Area.code == "DOCK"))
    assert dock is not None
    terminal = create_terminal(area_id=dock.id)
    moved = post(
        f"/areas/{dock.id}",
        {"code": "DOCK", "name": "Loading dock", "parent_id": str(org["gate"].id)},
        page=f"/areas/{dock.id}",
    )
    assert moved.status_code == 302
    db.expire_all()
    assert (dock.name, dock.parent_id) == ("Loading dock", org["gate"].id)
    kinds = db.scalars(
        select(TerminalCommand.kind).where(TerminalCommand.terminal_id == terminal.id)
    ).all()
    assert list(kinds) == ["reconcile"]
    cycle = post(
        f"/areas/{org['gate'].id}",
        {"code": "GATE", "name": "Main gate", "parent_id": str(dock.id)},
        page="/areas",
    )
    assert cycle.status_code == 422
    assert [a for a in _actions(db) if a.startswith("area.")] == ["area.created", "area.moved"]
    page = client.get("/areas").get_data(as_text=True)
    assert "Loading dock" in page


def test_a_scoped_manager_sees_head_counts_only_of_their_departments(
    client: Any, sign_in: Callable[..., Any], org: dict[str, Any]
) -> None:
    sign_in("hr_manager", departments=(org["assembly"],))
    tree = client.get("/departments").get_data(as_text=True).split('id="department-tree"')[1]
    tree = tree.split("</section>")[0]
    assert "Office" in tree  # the organization's tree is shown whole
    assert f"department={org['assembly'].id}" in tree
    assert f"department={org['office'].id}" not in tree  # Bo's department: no head count


def test_moving_an_area_needs_the_biometric_permission_once_templates_exist(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
    create_terminal: Callable[..., Any],
) -> None:
    from server.enrolment.models import BiometricTemplate
    from tests.conftest import csrf_token

    dock = Area(code="DOCK", name="Dock")
    db.add(dock)
    db.flush()
    create_terminal(area_id=dock.id)
    db.add(
        BiometricTemplate(
            employee_id=org["ana"].id,
            kind="finger",
            template_index=1,
            format_version="10",
            ciphertext=b"sealed elsewhere",
        )
    )
    db.commit()
    move = {"code": "DOCK", "name": "Dock", "parent_id": str(org["gate"].id)}
    sign_in("hr_manager")  # edits the organization, without the biometric permission
    renamed = post(
        f"/areas/{dock.id}", {**move, "name": "Loading dock", "parent_id": ""}, page="/areas"
    )
    assert renamed.status_code == 302  # a rename moves no template
    refused = post(f"/areas/{dock.id}", move, page="/areas")
    assert refused.status_code == 403
    db.expire_all()
    assert dock.parent_id is None
    assert not db.scalars(select(TerminalCommand)).all()
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    sign_in("hr_manager", biometric_permission=True)
    assert post(f"/areas/{dock.id}", move, page="/areas").status_code == 302
    db.expire_all()
    assert dock.parent_id == org["gate"].id
