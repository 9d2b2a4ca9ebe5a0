# SPDX-License-Identifier: GPL-2.0-or-later
# ruff: noqa: RUF001 -- the pages are in Chinese, with its full-width punctuation
"""Pages in the reader's language, not in codes or werkzeug's English (issue #6 review).

HTTP error pages and the API's error messages, stored codes on the employee, consent and
terminal pages, the deadline profiles in Settings, and counted things in the singular.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from server.auth.models import Account
from server.devices.distribution import queue_command
from server.devices.models import CommandKind, SyncRun
from server.employees.models import Employee
from server.organization.models import Department
from tests.conftest import csrf_token
from tests.web.conftest import add_punch

PASSWORD = "correct horse battery"
WERKZEUG_404 = "The requested URL was not found on the server"
WERKZEUG_405 = "The method is not allowed for the requested URL"


def _reader(
    create_account: Callable[..., Any],
    login: Callable[..., Any],
    db: Session,
    role: str = "admin",
    locale: str = "zh_CN",
) -> Account:
    account: Account = create_account(role=role, password=PASSWORD)
    account.locale = locale
    db.commit()
    assert login(account.username, PASSWORD).status_code == 302
    return account


def _section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</section>", start)]


# --------------------------------------------------------------------------- HTTP errors
@pytest.mark.parametrize(
    ("locale", "title", "message"),
    [
        ("zh_CN", "未找到", "此地址没有内容。可能已被删除，或链接有误。"),
        (
            "en",
            "Not found",
            "There is nothing at this address. It may have been removed, or the link is wrong.",
        ),
    ],
)
def test_an_unknown_page_is_explained_in_the_readers_language(
    client: Any,
    db: Session,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    locale: str,
    title: str,
    message: str,
) -> None:
    _reader(create_account, login, db, locale=locale)
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert f"<title>{title}" in page
    assert f"<h1>{title}" in page
    assert message in page
    assert WERKZEUG_404 not in page


def test_a_wrong_method_on_a_page_is_explained_in_chinese(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    _reader(create_account, login, db)
    token = csrf_token(client.get("/departments").get_data(as_text=True))
    response = client.post("/punches", data={"csrf_token": token})
    assert response.status_code == 405
    page = response.get_data(as_text=True)
    assert "此地址不接受这种请求。" in page
    assert WERKZEUG_405 not in page
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}  # RFC 9110


def test_the_api_keeps_its_error_codes_and_translates_the_message(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    _reader(create_account, login, db)
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.get_json() == {
        "error": "not_found",
        "message": "此地址没有内容。可能已被删除，或链接有误。",
        "details": {},
    }
    token = csrf_token(client.get("/departments").get_data(as_text=True))
    wrong = client.delete("/api/v1/employees", headers={"X-CSRFToken": token})
    assert wrong.status_code == 405
    body = wrong.get_json()
    assert (body["error"], body["details"]) == ("method_not_allowed", {})
    assert body["message"] == "此地址不接受这种请求。"
    assert "POST" in wrong.headers["Allow"]  # what the address does accept
    assert wrong.headers["Content-Type"].startswith("application/json")


# --------------------------------------------------------------------------- stored codes
def test_the_employee_page_names_punch_sources_and_the_consent_refusal(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    employee = Employee(employee_code="E100", given_name="Ana", family_name="Lopez")
    db.add(employee)
    db.flush()
    now = datetime.now(UTC).replace(microsecond=0)
    add_punch(db, employee, now - timedelta(hours=2), source="pull")
    add_punch(db, employee, now - timedelta(hours=1), source="manual")
    db.commit()
    _reader(create_account, login, db)
    page = client.get(f"/employees/{employee.id}").get_data(as_text=True)
    punches = _section(page, "punches")
    assert "考勤机（拉取）" in punches
    assert "手工录入" in punches
    assert not re.search(r"<td>\s*(pull|manual|push)\s*</td>", punches)
    # Biometrics are off by default: the consent gate refuses, and says why in words.
    biometrics = _section(page, "biometrics")
    assert "生物识别已在设置中关闭" in biometrics
    assert "biometrics_disabled" not in page


def test_the_consent_page_names_the_refusal(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    db.add(Employee(employee_code="E100", given_name="Ana", family_name="Lopez"))
    db.commit()
    _reader(create_account, login, db, role="privacy_officer")
    page = client.get("/privacy/consent?employee=E100").get_data(as_text=True)
    assert "生物识别已在设置中关闭" in page
    assert "biometrics_disabled" not in page


def test_the_terminal_page_names_commands_their_causes_and_sync_triggers(
    client: Any,
    db: Session,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    terminal = create_terminal()
    queue_command(db, terminal, CommandKind.RECONCILE, cause="area_moved")
    db.add(
        SyncRun(
            terminal_id=terminal.id, trigger="manual", status="ok", started_at=datetime.now(UTC)
        )
    )
    db.commit()
    _reader(create_account, login, db)
    page = client.get(f"/terminals/{terminal.id}").get_data(as_text=True)
    commands = page[page.index('class="data commands"') :]
    commands = commands[: commands.index("</table>")]
    assert "与 Rollcall 核对" in commands
    assert "区域已移动" in commands
    assert "reconcile" not in commands
    assert "area_moved" not in commands
    runs = page[page.index('id="runs"') :]
    runs = runs[: runs.index("</table>")]
    assert '<span class="muted">手工</span>' in runs
    assert "manual" not in runs
    fleet = client.get("/terminals").get_data(as_text=True)
    row = fleet[fleet.index(f'id="t{terminal.id}"') :]
    row = row[: row.index("</tr>")]
    assert "正常" in row
    assert not re.search(r">\s*ok\b", row)


# --------------------------------------------------------------------------- settings
def test_the_deadline_profiles_are_named_in_chinese(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    _reader(create_account, login, db)
    page = client.get("/settings").get_data(as_text=True)
    jurisdiction = page[page.index('id="jurisdiction"') :]
    jurisdiction = jurisdiction[: jurisdiction.index("</select>")]
    assert "欧盟 GDPR 第 12(3) 条：一个月，可延长两个月" in jurisdiction
    assert "组织规定：7 天" in jurisdiction
    assert "Organization policy" not in jurisdiction
    assert "EU GDPR" not in jurisdiction


# --------------------------------------------------------------------------- plurals
@pytest.mark.parametrize(
    ("locale", "one", "two", "wrong"),
    [
        ("en", ">1 employee<", ">2 employees<", "1 employees"),
        ("zh_CN", ">1 名员工<", ">2 名员工<", "employee"),
    ],
)
def test_a_department_of_one_employee_says_so_in_the_singular(
    client: Any,
    db: Session,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    locale: str,
    one: str,
    two: str,
    wrong: str,
) -> None:
    small, large = Department(code="S", name="Small"), Department(code="L", name="Large")
    db.add_all([small, large])
    db.flush()
    db.add_all(
        [
            Employee(employee_code=code, given_name="A", family_name="B", department_id=dep.id)
            for code, dep in (("E1", small), ("E2", large), ("E3", large))
        ]
    )
    db.commit()
    _reader(create_account, login, db, locale=locale)
    page = client.get("/departments").get_data(as_text=True)
    assert one in page
    assert two in page
    counts = re.findall(r'<a class="badge" href="[^"]*">([^<]*)</a>', page)
    assert len(counts) == 2
    assert not [c for c in counts if wrong in c]
