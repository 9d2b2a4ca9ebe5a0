# SPDX-License-Identifier: GPL-2.0-or-later
"""Service refusals in the reader's language (issue #6).

A service raises an AppError whose message is read in a page, a flash or the API's JSON
``message``: an account that reads Chinese gets it in Chinese, with the same ``error`` code
and ``details`` an API client keys on. A command or the worker, which have no reader's
language, keep getting English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.api.tokens import create_token
from server.audit.services import Actor
from server.auth.models import Account
from server.devices import services as devices
from server.devices.models import Terminal
from server.employees import services as employees
from server.employees.models import Employee
from server.errors import ConflictError, ValidationError
from terminals.base import (
    TerminalAuthError,
    TerminalError,
    TerminalIdentityError,
    TerminalUnreachableError,
)
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
DUPLICATE_EN = "Another employee has this employee code."
DUPLICATE_ZH = "已有其他员工使用此员工编号。"


def _reader(create_account: Callable[..., Any], db: Session, role: str, locale: str) -> Account:
    account: Account = create_account(role=role, password=PASSWORD)
    account.locale = locale
    db.commit()
    return account


def _token(db: Session, account: Account) -> str:
    issued = create_token(
        db,
        account_id=account.id,
        name="client",
        read_only=False,
        days=None,
        actor=Actor.system("t"),
    )
    db.commit()
    return issued.secret


def _employee(db: Session, code: str = "E100") -> Employee:
    employee = Employee(employee_code=code, given_name="Ana", family_name="Lopez")
    db.add(employee)
    db.commit()
    return employee


def _count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------- pages
def test_a_duplicate_employee_code_is_refused_in_chinese_on_the_page(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    _employee(db)
    account = _reader(create_account, db, "hr_manager", "zh_CN")
    assert login(account.username, PASSWORD).status_code == 302
    token = csrf_token(client.get("/employees/new").get_data(as_text=True))
    response = client.post(
        "/employees/new",
        data={
            "employee_code": "E100",
            "given_name": "Mei",
            "family_name": "Wang",
            "department_id": "",
            "locale": "",
            "verify_mode": "card",
            "device_privilege": "0",
            "csrf_token": token,
        },
        # The account's language wins over the browser's.
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert DUPLICATE_ZH in page, page[page.find("<form") :]
    assert DUPLICATE_EN not in page
    assert _count(db, Employee) == 1


@pytest.mark.parametrize(
    ("address", "chinese", "english"),
    [
        ("bad host!", "这不是有效的主机名或地址", "is not a host name or address"),
        ("127.0.0.1:99999", "这不是有效的端口号", "is not a port number"),
    ],
)
def test_a_bad_terminal_address_is_refused_in_chinese_and_not_echoed(
    client: Any,
    db: Session,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    address: str,
    chinese: str,
    english: str,
) -> None:
    account = _reader(create_account, db, "admin", "zh_CN")
    login(account.username, PASSWORD)
    token = csrf_token(client.get("/terminals/new").get_data(as_text=True))
    response = client.post(
        "/terminals/new",
        data={
            "address": address,
            "transport": "tcp",
            "timezone": "Asia/Shanghai",
            "encoding": "utf-8",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert chinese in page
    assert english not in page
    assert _count(db, Terminal) == 0


def test_a_failed_connection_test_is_explained_in_chinese(
    client: Any,
    db: Session,
    simulator: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    sim = simulator.start(users=1, records=1)
    terminal = create_terminal(sim)
    sim.stop()
    account = _reader(create_account, db, "hr_manager", "zh_CN")
    login(account.username, PASSWORD)
    url = f"/terminals/{terminal.id}"
    token = csrf_token(client.get(url).get_data(as_text=True))
    client.post(f"{url}/test", data={"csrf_token": token})
    page = client.get(url).get_data(as_text=True)
    assert "连接失败" in page
    assert "考勤机没有应答" in page  # the kind of failure, then the driver's detail
    assert "TerminalUnreachableError" not in page


# --------------------------------------------------------------------------- API
def test_the_api_answers_in_the_tokens_accounts_language_with_the_same_code(
    client: Any, db: Session, create_account: Callable[..., Any]
) -> None:
    _employee(db)
    body = {"employee_code": "E100", "given_name": "Mei", "family_name": "Wang"}
    answers = {}
    for locale in ("zh_CN", "en"):
        token = _token(db, _reader(create_account, db, "hr_manager", locale))
        response = client.post(
            "/api/v1/employees", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 409, response.get_json()
        answers[locale] = response.get_json()
    assert answers["zh_CN"]["message"] == DUPLICATE_ZH
    assert answers["en"]["message"] == DUPLICATE_EN
    # What a client keys on does not depend on the language.
    assert answers["zh_CN"]["error"] == answers["en"]["error"] == "conflict"
    assert answers["zh_CN"]["details"] == answers["en"]["details"] == {"field": "employee_code"}
    assert _count(db, Employee) == 1


def test_a_bad_terminal_over_the_api_is_refused_in_chinese(
    client: Any, db: Session, create_account: Callable[..., Any]
) -> None:
    token = _token(db, _reader(create_account, db, "admin", "zh_CN"))
    response = client.post(
        "/api/v1/terminals",
        json={"address": "bad host!"},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.get_json()
    assert response.status_code == 422, body
    assert (body["error"], body["details"]) == ("invalid", {"field": "address"})
    assert body["message"].startswith("这不是有效的主机名或地址")
    assert "bad host" not in body["message"]  # what was typed is not echoed


# --------------------------------------------------------------------------- no reader
def test_a_command_or_the_worker_gets_english(db: Session, app: Any) -> None:
    """No request: no reader's language, so English, with or without an app context."""
    _employee(db)
    values = {"employee_code": "E100", "given_name": "Mei", "family_name": "Wang"}
    with pytest.raises(ConflictError) as refused:
        employees.create_employee(db, values, actor=Actor.system("cli"))
    assert refused.value.message == DUPLICATE_EN
    with app.app_context(), pytest.raises(ValidationError) as bad:
        devices.parse_address("bad host!")
    assert bad.value.message.startswith("That is not a host name or address")


def test_terminal_failures_are_described_by_kind_without_a_request() -> None:
    assert devices.describe_terminal_error(
        TerminalUnreachableError("info: 127.0.0.1:4370: timed out")
    ) == (
        "The terminal did not answer (wrong address, switched off or no network): "
        "info: 127.0.0.1:4370: timed out"
    )
    assert devices.describe_terminal_error(TerminalAuthError("x")).startswith(
        "The terminal refused the comm key"
    )
    assert devices.describe_terminal_error(
        TerminalIdentityError("x", expected="A1", found="B2")
    ) == ("Terminal B2 answered at this address, not A1.")
    assert devices.describe_terminal_error(TerminalError("y")).endswith(": y")
