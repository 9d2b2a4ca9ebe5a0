# SPDX-License-Identifier: GPL-2.0-or-later
"""Service refusals in the reader's language (issue #6).

A service raises an AppError whose message is read in a page, a flash or the API's JSON
``message``: an account that reads Chinese gets it in Chinese, with the same ``error`` code
and ``details`` an API client keys on. A command or the worker, which have no reader's
language, keep getting English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from server.rights import erasure
from server.rights import services as register
from server.rights.models import SubjectRequest
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
NO_GROUND_EN = "A refusal needs its legal ground."
NO_GROUND_ZH = "拒绝须注明法律依据。"
ERASE_EARLY_EN = 'Request {id} is "Identity verified": its erasure cannot start now.'
ERASE_EARLY_ZH = "请求 {id} 的状态为“身份已核验”：现在不能开始删除。"  # noqa: RUF001 -- Chinese colon


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


def _request(db: Session, kind: str = "erasure", *, verified: bool = False) -> SubjectRequest:
    """A request of E100 (created here), received, its identity verified if asked."""
    actor = Actor.system("t")
    req = register.receive_request(db, employee_id=_employee(db).id, kind=kind, actor=actor)
    if verified:
        register.verify_identity(db, req.id, method="in_person", actor=actor)
    db.commit()
    return req


def _flash_errors(page: str) -> str:
    return " ".join(re.findall(r'class="flash flash-error"[^>]*>\s*([^<]*)', page))


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


@pytest.mark.parametrize(
    ("locale", "expected", "other"),
    [("zh_CN", NO_GROUND_ZH, NO_GROUND_EN), ("en", NO_GROUND_EN, NO_GROUND_ZH)],
)
def test_a_refusal_without_a_legal_ground_is_flashed_in_the_readers_language(
    client: Any,
    db: Session,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    locale: str,
    expected: str,
    other: str,
) -> None:
    req = _request(db)
    account = _reader(create_account, db, "privacy_officer", locale)
    assert login(account.username, PASSWORD).status_code == 302
    url = f"/rights/requests/{req.id}"
    token = csrf_token(client.get(url).get_data(as_text=True))
    page = client.post(
        f"{url}/refuse",
        data={"reason": "", "text": "No.", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert expected in _flash_errors(page), _flash_errors(page)
    assert other not in page
    db.expire_all()
    assert db.get(SubjectRequest, req.id).status == "received"  # type: ignore[union-attr]


def test_a_manual_punch_in_the_future_is_refused_in_chinese_by_the_service(
    client: Any, db: Session, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    """The page shows the service's own (translated) message; it translates nothing itself."""
    _employee(db)
    account = _reader(create_account, db, "hr_manager", "zh_CN")
    login(account.username, PASSWORD)
    tomorrow = datetime.now(ZoneInfo("UTC")) + timedelta(days=2)
    response = client.post(
        "/punches/new",
        data={
            "employee": "E100",
            "day": tomorrow.date().isoformat(),
            "at": "07:58",
            "state": "0",
            "reason": "terminal_fault",
            "note": "",
            "csrf_token": csrf_token(client.get("/punches/new").get_data(as_text=True)),
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "不能录入未来时间的打卡。" in page
    assert "in the future" not in page


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


def test_an_erasure_before_the_work_started_is_refused_in_each_accounts_language(
    client: Any, db: Session, create_account: Callable[..., Any]
) -> None:
    req = _request(db, verified=True)
    answers = {}
    for locale in ("zh_CN", "en"):
        token = _token(db, _reader(create_account, db, "privacy_officer", locale))
        response = client.post(
            f"/api/v1/requests/{req.id}/erasure", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 409, response.get_json()
        answers[locale] = response.get_json()
    assert answers["zh_CN"]["message"] == ERASE_EARLY_ZH.format(id=req.id)
    assert answers["en"]["message"] == ERASE_EARLY_EN.format(id=req.id)
    assert answers["zh_CN"]["error"] == answers["en"]["error"] == "conflict"
    assert (
        answers["zh_CN"]["details"] == answers["en"]["details"] == {"status": "identity_verified"}
    )
    assert register.erasure_run_of(db, req.id) is None


def test_a_bad_query_parameter_is_refused_in_chinese_with_the_same_field(
    client: Any, db: Session, create_account: Callable[..., Any]
) -> None:
    token = _token(db, _reader(create_account, db, "hr_manager", "zh_CN"))
    response = client.get(
        "/api/v1/employees?colour=red", headers={"Authorization": f"Bearer {token}"}
    )
    body = response.get_json()
    assert response.status_code == 422, body
    assert (body["error"], body["details"]) == ("invalid", {"field": "colour"})
    assert body["message"] == "此接口没有查询参数 colour。"


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


def test_a_rights_command_gets_english(db: Session, app: Any) -> None:
    """The rights CLI calls the same services: English, with or without an app context."""
    req = _request(db, verified=True)
    with pytest.raises(ValidationError) as refused:
        register.refuse_request(
            db, req.id, reason=None, text_for_employee="No.", actor=Actor.system("cli")
        )
    assert refused.value.message == NO_GROUND_EN
    with app.app_context(), pytest.raises(ConflictError) as early:
        erasure.start_erasure(db, req.id, actor=Actor.system("cli"))
    assert early.value.message == (
        f'Request {req.id} is "Identity verified": an erasure starts once the identity is '
        "verified and work has started."
    )


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
