# SPDX-License-Identifier: GPL-2.0-or-later
"""CSV import of employees: preview with per-row errors, all or nothing (issue #6)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.employees.models import Employee, employee_areas

GOOD = (
    "employee_code,given_name,family_name,department,areas,hire_date,card_number\n"
    "E700,Li,Na,ASSY,GATE,2026-01-02,555\n"
    "E701,Wei,Zhang,ASSY,,,\n"
)


def _upload(post: Callable[..., Any], text: str, encoding: str = "utf-8") -> Any:
    data = {"file": (io.BytesIO(text.encode(encoding)), "people.csv")}
    return post(
        "/employees/import", data, page="/employees/import", content_type="multipart/form-data"
    )


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Employee)) or 0


def _content(page: str) -> str:
    match = re.search(r'name="content" type="hidden" value="([^"]*)"', page) or re.search(
        r'type="hidden" name="content" value="([^"]*)"', page
    )
    assert match, "no content field"

    return html.unescape(match.group(1))


def test_a_valid_file_is_previewed_then_imported(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager", departments=(org["plant"],))
    before = _count(db)
    preview = _upload(post, GOOD)
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "All 2 rows are valid." in page
    assert _count(db) == before  # the preview writes nothing
    done = post("/employees/import/confirm", {"content": _content(page)}, page="/employees/import")
    assert done.status_code == 302
    li = db.scalar(select(Employee).where(Employee.employee_code == "E700"))
    assert li is not None
    assert li.department_id == org["assembly"].id
    assert str(li.hire_date) == "2026-01-02"
    areas = db.scalars(
        select(employee_areas.c.area_id).where(employee_areas.c.employee_id == li.id)
    )
    assert list(areas) == [org["gate"].id]
    actions = list(db.scalars(select(AuditEvent.action)))
    assert actions.count("employee.created") == 2
    assert actions.count("employee.imported") == 1


def test_one_bad_row_shows_every_error_and_imports_nothing(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("hr_manager", departments=(org["plant"],))
    before = _count(db)
    text = GOOD + (
        "E100,Dup,Code,ASSY,,,\n"  # the code exists
        "E702,Out,Scope,OFFICE,,,\n"  # department outside the manager's scope
        "E703,,NoGiven,ASSY,NOPE,2026-13-01,12a\n"  # several problems at once
        "E700,Twice,InFile,ASSY,,,\n"
    )
    preview = _upload(post, text)
    assert preview.status_code == 422
    page = preview.get_data(as_text=True)
    assert "4 of 6 rows have errors" in page
    for message in (
        "An employee with this code exists already.",
        "Department OFFICE is outside your scope.",
        "given_name is required.",
        "No area with code NOPE.",
        "hire_date: use the form YYYY-MM-DD.",
        "The employee code is also on line 2.",
    ):
        assert message in page, message
    assert 'name="content"' not in page  # no way to confirm
    # Confirming the same text anyway (a crafted POST) is refused and writes nothing.
    refused = post("/employees/import/confirm", {"content": text}, page="/employees/import")
    assert refused.status_code == 422
    assert _count(db) == before
    assert "employee.imported" not in db.scalars(select(AuditEvent.action)).all()


def test_file_level_problems_are_reported(
    client: Any, sign_in: Callable[..., Any], post: Callable[..., Any], org: dict[str, Any]
) -> None:
    sign_in("admin")
    missing = _upload(post, "code;name\nE1;X\n")
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert "Missing columns: employee_code, given_name, family_name." in page
    assert "Unknown columns: code, name." in page
    empty = _upload(post, "employee_code,given_name,family_name\n")
    assert "The file has a header but no employees." in empty.get_data(as_text=True)


def test_a_chinese_excel_file_in_gb18030_is_read(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("admin")
    preview = _upload(post, "employee_code,given_name,family_name\nE800,小明,王\n", "gb18030")
    assert preview.status_code == 200
    post(
        "/employees/import/confirm",
        {"content": _content(preview.get_data(as_text=True))},
        page="/employees/import",
    )
    assert db.scalar(select(Employee.given_name).where(Employee.employee_code == "E800")) == "小明"
